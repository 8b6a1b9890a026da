"""`personsync graph login | whoami | folders | logout` against the test server."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from graph_support import USER
from typer.testing import CliRunner

from personsync.cli import app
from personsync.graph.testserver import TEST_CLIENT_ID, GraphTestServer

runner = CliRunner()


@pytest.fixture
def signed_out(
    server: GraphTestServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[GraphTestServer]:
    for name, value in server.client_environment(str(tmp_path)).items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    server.identity.auto_approve = USER  # the person types the code in the browser at once
    yield server


def test_login_whoami_folders_logout(signed_out: GraphTestServer) -> None:
    before = runner.invoke(app, ["graph", "whoami"])
    assert before.exit_code == 1 and "not signed in" in before.output
    login = runner.invoke(app, ["graph", "login"])
    assert login.exit_code == 0, login.output
    assert f"signed in as {USER}" in login.output
    assert "devicelogin" in login.output  # the instructions were shown
    who = runner.invoke(app, ["graph", "whoami", "--json"])
    assert json.loads(who.stdout)["account"] == USER
    box = signed_out.mailbox(USER)
    box.create_folder(box.root.id, "CRM Members")
    listed = runner.invoke(app, ["graph", "folders", "--json"])
    assert listed.exit_code == 0, listed.output
    assert json.loads(listed.stdout) == ["graph:Contacts", "graph:Contacts/CRM Members"]
    generic = runner.invoke(app, ["folders", "list", "graph:", "--json"])
    assert generic.exit_code == 0, generic.output
    assert json.loads(generic.stdout) == json.loads(listed.stdout)
    out = runner.invoke(app, ["graph", "logout"])
    assert out.exit_code == 0 and "signed out" in out.output


def test_not_signed_in_is_one_line_and_a_hint(signed_out: GraphTestServer) -> None:
    result = runner.invoke(app, ["graph", "folders"])
    assert result.exit_code == 1
    assert "error: not signed in to Microsoft Graph" in result.output
    assert "hint: run `personsync graph login` first" in result.output
    assert "Traceback" not in result.output


def test_wrong_tenant_is_explained(
    signed_out: GraphTestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PERSONSYNC_GRAPH_TENANT", "nosuch.example")
    result = runner.invoke(app, ["graph", "login"])
    assert result.exit_code == 1
    assert "PERSONSYNC_GRAPH_TENANT" in result.output


def test_test_server_on_a_port_in_use_is_a_one_line_error() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = runner.invoke(app, ["graph", "test-server", "--port", str(port)])
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 2 and "Traceback" not in result.output
    said = " ".join(result.output.split())
    assert f"port {port}" in said and "in use" in said


def test_test_server_prints_both_ways_to_sign_in(server: GraphTestServer) -> None:
    from personsync.cli.graph_cmds import test_server_settings
    from personsync.graph.testserver import TEST_SECRET

    lines = "\n".join(test_server_settings(server, USER))
    assert f"export PERSONSYNC_GRAPH_CLIENT_SECRET={TEST_SECRET}" in lines
    assert f"--mailbox {USER}" in lines
    assert f"PERSONSYNC_GRAPH_CLIENT_ID={TEST_CLIENT_ID}" in lines
    assert "personsync graph login" in lines


def test_test_server_without_the_server_extra_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "uvicorn", None)  # as if not installed
    for name in [m for m in sys.modules if m.startswith("personsync.graph.testserver")]:
        monkeypatch.delitem(sys.modules, name)  # imported afresh, without uvicorn
    result = runner.invoke(app, ["graph", "test-server", "--port", "1"])
    assert result.exit_code == 1
    assert "uvicorn" in result.output and "personsync[server]" in result.output
    assert "Traceback" not in result.output


def test_fastapi_and_uvicorn_are_in_the_server_extra_only() -> None:
    import subprocess
    import sys
    from importlib.metadata import requires

    needs = requires("personsync") or []
    for name in ("fastapi", "uvicorn"):
        lines = [r.replace('"', "'") for r in needs if r.startswith(name)]
        assert lines and all("extra ==" in r for r in lines)  # not in the base install
        assert any("extra == 'server'" in r for r in lines)
    # And the base install runs without them.
    code = (
        "import sys\n"
        "sys.modules['fastapi'] = sys.modules['uvicorn'] = None\n"
        "from personsync.cli import main\n"
        "sys.argv = ['personsync', 'graph', '--help']\n"
        "main()\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "test-server" in done.stdout
