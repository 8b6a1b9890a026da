"""`personsync graph …`: sign in to Microsoft Graph, see who is signed in, list contact folders,
and run the Graph-compatible test server for trying things by hand."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated

import typer

from personsync.cli.options import JsonOption
from personsync.cli.output import console, err, print_json, say_wait
from personsync.cli.root import app
from personsync.errors import ConfigError
from personsync.graph.config import GraphConfig, config_dir

if TYPE_CHECKING:
    from personsync.graph.testserver import GraphTestServer

graph_app = typer.Typer(
    help="Microsoft 365 / Outlook.com contacts: sign in, list contact folders.\n\n"
    f"Settings: PERSONSYNC_GRAPH_TENANT, PERSONSYNC_GRAPH_CLIENT_ID (and for servers "
    f"PERSONSYNC_GRAPH_CLIENT_SECRET + --mailbox), or {config_dir() / 'graph.toml'}.",
    no_args_is_help=True,
)
app.add_typer(graph_app, name="graph")

MailboxOption = Annotated[
    str,
    typer.Option(
        "--mailbox",
        envvar="PERSONSYNC_GRAPH_MAILBOX",
        help="Whose contacts (app-only sign-in): user@example.org. Default: your own.",
    ),
]
TenantOption = Annotated[
    str,
    typer.Option("--tenant", help="Tenant: your domain, 'organizations', 'consumers' or 'common'."),
]
ClientIdOption = Annotated[
    str, typer.Option("--client-id", help="The app registration's client id.")
]


def _config(tenant: str = "", client_id: str = "", mailbox: str = "") -> GraphConfig:
    return GraphConfig.load().with_options(tenant=tenant, client_id=client_id, mailbox=mailbox)


@graph_app.command()
def login(tenant: TenantOption = "", client_id: ClientIdOption = "") -> None:
    """Sign in (device code: open the link, type the code). Servers: set the client secret."""
    from personsync.graph.auth import GraphAuth

    auth = GraphAuth(_config(tenant, client_id))
    who = auth.login(lambda message: err.print(f"[bold]{message}[/bold]"))
    console.print(f"signed in as {who}")


@graph_app.command()
def logout() -> None:
    """Forget the sign-in (deletes the token cache)."""
    from personsync.graph.auth import GraphAuth

    had = GraphAuth(_config()).logout()
    console.print("signed out" if had else "nobody was signed in")


@graph_app.command()
def whoami(json_out: JsonOption = False) -> None:
    """Who is signed in to Microsoft Graph."""
    from personsync.graph.auth import GraphAuth

    cfg = _config()
    who = GraphAuth(cfg).whoami() if cfg.client_id else None
    if json_out:
        print_json({"account": who, "tenant": cfg.tenant, "client_id": cfg.client_id})
        return
    if who is None:
        console.print("not signed in: run `personsync graph login`")
        raise typer.Exit(1)
    console.print(f"{who} (tenant {cfg.tenant})")


@graph_app.command()
def folders(mailbox: MailboxOption = "", json_out: JsonOption = False) -> None:
    """List the mailbox's contact folders as folder URLs (graph:Contacts/...)."""
    from personsync.stores import list_folders

    found = list_folders("graph:", mailbox=mailbox, on_wait=say_wait)
    if json_out:
        print_json(found)
    else:
        for url in found:
            console.print(url)


@graph_app.command("test-server")
def test_server(
    port: Annotated[int, typer.Option("--port", help="Loopback port.")] = 8765,
    user: Annotated[str, typer.Option("--user", help="Mailbox to create.")] = "ann@example.org",
    budget: Annotated[
        int, typer.Option("--budget", help="Requests per 10 minutes per mailbox (0: off).")
    ] = 0,
) -> None:
    """Run the Graph-compatible test server on 127.0.0.1 (device codes approved at once)."""
    try:
        from personsync.graph.testserver import GraphTestServer
        from personsync.graph.testserver.limits import ServerConfig
    except ModuleNotFoundError as exc:
        raise ConfigError(
            f"the Graph test server needs {exc.name}, which is not installed",
            hint="install the server extra: pip install 'personsync[server]'",
        ) from exc

    server = GraphTestServer(
        ServerConfig(budget=budget or None, max_concurrent=4 if budget else None)
    )
    server.mailbox(user)
    server.identity.auto_approve = user
    with server.serve(port):
        for line in test_server_settings(server, user):
            console.print(line, markup=False, highlight=False)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            console.print("stopped")


def test_server_settings(server: GraphTestServer, user: str) -> list[str]:
    """What to type to use a running test server, both ways of signing in."""
    from personsync.graph.testserver import TEST_CLIENT_ID, TEST_SECRET

    common = [
        f"  export PERSONSYNC_GRAPH_BASE_URL={server.graph_url}",
        f"  export PERSONSYNC_GRAPH_AUTHORITY={server.base_url}",
        "  export PERSONSYNC_GRAPH_TENANT=test",
        f"  export PERSONSYNC_GRAPH_CLIENT_ID={TEST_CLIENT_ID}",
    ]
    return [
        f"Graph test server on {server.base_url} (mailbox {user}); Ctrl-C stops",
        "A person (device code, approved at once):",
        *common,
        "  unset PERSONSYNC_GRAPH_CLIENT_SECRET",
        "  personsync graph login",
        "A server (client credentials, the app's secret):",
        *common,
        f"  export PERSONSYNC_GRAPH_CLIENT_SECRET={TEST_SECRET}",
        f"  personsync graph folders --mailbox {user}",
    ]
