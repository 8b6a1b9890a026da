"""Sign-in with msal, unmodified, against the test server's identity endpoints over HTTP."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest
from graph_support import USER

from personsync.errors import AuthError
from personsync.graph.auth import GraphAuth, write_private
from personsync.graph.config import GraphConfig
from personsync.graph.testserver import TEST_CLIENT_ID, TEST_SECRET, GraphTestServer
from personsync.graph.testserver.identity import AppRegistration
from personsync.stores import open_folder


def _config(srv: GraphTestServer, tmp_path: Path, **kw: str) -> GraphConfig:
    values = {
        "tenant": "test",
        "client_id": TEST_CLIENT_ID,
        "authority": srv.base_url,
        "base_url": srv.graph_url,
        **kw,
    }
    return GraphConfig(directory=tmp_path, **values)  # type: ignore[arg-type]


def _approver(srv: GraphTestServer, shown: list[str]):  # type: ignore[no-untyped-def]
    def show(message: str) -> None:
        shown.append(message)
        code = re.search(r"enter (\w+)", message)
        assert code is not None
        srv.identity.approve(code.group(1), USER)  # what the person does in the browser

    return show


def test_device_code_sign_in_cache_and_silent_tokens(
    server: GraphTestServer, tmp_path: Path
) -> None:
    cfg = _config(server, tmp_path)
    auth = GraphAuth(cfg)
    assert auth.whoami() is None
    shown: list[str] = []
    assert auth.login(_approver(server, shown)) == USER
    assert "devicelogin" in shown[0]
    mode = stat.S_IMODE(cfg.cache_path.stat().st_mode)
    assert mode == 0o600
    # A new process: the cache signs in silently and the token works on Graph.
    later = GraphAuth(cfg)
    assert later.whoami() == USER
    store = open_folder("graph:Contacts", config=cfg, token=later.token)
    assert list(store.list_items()) == []
    # The refresh token is used when the access token is gone.
    server.state.tokens.clear()
    fresh = GraphAuth(cfg)
    for at in list(fresh.cache.search(fresh.cache.CredentialType.ACCESS_TOKEN)):
        fresh.cache.remove_at(at)
    token = fresh.token()
    assert server.state.tokens[token]["upn"] == USER
    assert fresh.logout() is True
    assert not cfg.cache_path.exists()
    assert GraphAuth(cfg).whoami() is None


def test_tokens_are_never_requested_with_reserved_scopes(
    server: GraphTestServer, tmp_path: Path
) -> None:
    auth = GraphAuth(_config(server, tmp_path))
    auth.login(_approver(server, []))
    token = auth.token()
    assert server.state.tokens[token]["scopes"] == ["Contacts.ReadWrite"]


def test_client_credentials_for_servers(server: GraphTestServer, tmp_path: Path) -> None:
    cfg = _config(server, tmp_path, client_secret=TEST_SECRET, mailbox=USER)
    auth = GraphAuth(cfg)
    assert "app" in auth.login(lambda m: None)
    store = open_folder("graph:Contacts/CRM", config=cfg, token=auth.token)
    assert store.url == "graph:Contacts/CRM"
    assert server.mailbox(USER).children(server.mailbox(USER).root.id)[0].display_name == "CRM"


def test_app_only_without_mailbox_is_a_config_error(
    server: GraphTestServer, tmp_path: Path
) -> None:
    cfg = _config(server, tmp_path, client_secret=TEST_SECRET)
    with pytest.raises(Exception, match="needs the mailbox") as caught:
        open_folder("graph:Contacts", config=cfg, token="x")
    assert "--mailbox" in caught.value.hint  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("setup", "code"),
    [
        ("no-consent", "Grant admin consent"),
        ("no-public-client", "Allow public client flows"),
        ("wrong-tenant", "PERSONSYNC_GRAPH_TENANT"),
        ("wrong-secret", "PERSONSYNC_GRAPH_CLIENT_SECRET"),
    ],
)
def test_sign_in_problems_are_explained(
    server: GraphTestServer, tmp_path: Path, setup: str, code: str
) -> None:
    kw: dict[str, str] = {}
    if setup == "no-consent":
        server.identity.register(AppRegistration(TEST_CLIENT_ID, consented=False))
    elif setup == "no-public-client":
        server.identity.register(AppRegistration(TEST_CLIENT_ID, public_client=False))
    elif setup == "wrong-tenant":
        kw["tenant"] = "nosuch.onmicrosoft.com"
    else:
        kw["client_secret"] = "wrong"
        kw["mailbox"] = USER
    auth = GraphAuth(_config(server, tmp_path, **kw))
    with pytest.raises(AuthError) as caught:
        auth.login(_approver(server, []))
    assert code in caught.value.hint
    assert "\n" not in caught.value.message


def test_not_signed_in_says_how(server: GraphTestServer, tmp_path: Path) -> None:
    with pytest.raises(AuthError) as caught:
        GraphAuth(_config(server, tmp_path)).token()
    assert "personsync graph login" in caught.value.hint


def test_private_file_is_owner_only_even_over_an_open_file(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "cache.json"
    target.parent.mkdir()
    target.write_text("old")
    target.chmod(0o644)
    write_private(target, "new")
    assert target.read_text() == "new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_config_file_and_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERSONSYNC_CONFIG_DIR", str(tmp_path))
    for name in ("TENANT", "CLIENT_ID", "CLIENT_SECRET", "BASE_URL", "AUTHORITY", "MAILBOX"):
        monkeypatch.delenv(f"PERSONSYNC_GRAPH_{name}", raising=False)
    (tmp_path / "graph.toml").write_text(
        'tenant = "contoso.onmicrosoft.com"\nclient_id = "abc"\nclient_secret = "no"\n'
    )
    cfg = GraphConfig.load()
    assert (cfg.tenant, cfg.client_id, cfg.client_secret) == ("contoso.onmicrosoft.com", "abc", "")
    monkeypatch.setenv("PERSONSYNC_GRAPH_CLIENT_ID", "env-wins")
    assert GraphConfig.load().client_id == "env-wins"
    assert GraphConfig.load().cache_path.parent == tmp_path
    (tmp_path / "graph.toml").write_text("tenant = [")
    with pytest.raises(Exception, match=r"graph\.toml"):
        GraphConfig.load()
