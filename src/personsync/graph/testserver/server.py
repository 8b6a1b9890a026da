"""A Graph-compatible test server over real HTTP on loopback (uvicorn in a thread)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import uvicorn

from personsync.errors import UsageError
from personsync.graph.testserver.app import create_app
from personsync.graph.testserver.graph_api import GraphApi
from personsync.graph.testserver.identity import AppRegistration, Identity
from personsync.graph.testserver.limits import Faults, ServerConfig, Throttle
from personsync.graph.testserver.state import Mailbox, ServerState

TEST_CLIENT_ID = "11111111-2222-3333-4444-555555555555"
TEST_SECRET = "test-secret"  # noqa: S105 (the test server's own app registration)


@dataclass
class GraphTestServer:
    """State, limits, faults and the ASGI app; `serve()` runs it on a free loopback port."""

    config: ServerConfig = field(default_factory=ServerConfig)
    faults: Faults = field(default_factory=Faults)

    def __post_init__(self) -> None:
        self.state = ServerState()
        self.throttle = Throttle(self.config)
        self.api = GraphApi(self.state, self.config, self.faults, self.throttle)
        self.identity = Identity(self.state)
        self.identity.register(AppRegistration(TEST_CLIENT_ID, secret=TEST_SECRET))
        self.app = create_app(self.api, self.identity, self.throttle, self.faults, self.config)
        self.base_url = ""

    def set_base_url(self, base_url: str) -> None:
        self.base_url = base_url
        self.api.base_url = base_url
        self.identity.base_url = base_url

    @property
    def graph_url(self) -> str:
        return f"{self.base_url}/v1.0"

    def mailbox(self, upn: str) -> Mailbox:
        return self.state.add_user(upn)

    def client_environment(self, config_dir: str) -> dict[str, str | None]:
        """The environment that points personsync (a person's sign-in, no secret, their own
        mailbox) at this server, its sign-in cache in `config_dir`; None: unset it."""
        return {
            "PERSONSYNC_CONFIG_DIR": config_dir,
            "PERSONSYNC_GRAPH_BASE_URL": self.graph_url,
            "PERSONSYNC_GRAPH_AUTHORITY": self.base_url,
            "PERSONSYNC_GRAPH_TENANT": "test",
            "PERSONSYNC_GRAPH_CLIENT_ID": TEST_CLIENT_ID,
            "PERSONSYNC_GRAPH_CLIENT_SECRET": None,
            "PERSONSYNC_GRAPH_MAILBOX": None,
        }

    def token_for(self, upn: str) -> str:
        token = self.state.user_token(upn)
        self.state.tokens[token]["scopes"] = ["Contacts.ReadWrite"]
        return token

    def graph_requests(self) -> int:
        """Requests as Graph counts them (inner requests of a batch; not the batch itself)."""
        return sum(1 for _, path, inner, _ in self.api.log if inner or path != "/$batch")

    @contextmanager
    def serve(self, port: int = 0) -> Iterator[GraphTestServer]:
        """Serve on 127.0.0.1:`port` (0: a free one) while the block runs. The socket is bound
        here, not by uvicorn, so that a port in use is a one-line UsageError naming it (uvicorn
        ends its thread, and the start failed with a traceback) and a free port cannot be taken
        between choosing and binding it."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as exc:
            sock.close()
            raise UsageError(
                f"cannot serve on 127.0.0.1 port {port}: {exc.strerror or exc}",
                hint="choose another port with --port, or stop the program that holds it",
            ) from exc
        try:
            port = int(sock.getsockname()[1])
            self.set_base_url(f"http://127.0.0.1:{port}")
            config = uvicorn.Config(
                self.app, host="127.0.0.1", port=port, log_level="critical", access_log=False,
                lifespan="off",
            )  # fmt: skip
            server = uvicorn.Server(config)
            thread = threading.Thread(
                target=server.run, kwargs={"sockets": [sock]}, name=f"graph-test-{port}",
                daemon=True,
            )  # fmt: skip
            thread.start()
            deadline = time.monotonic() + 10
            while not server.started:
                if time.monotonic() > deadline or not thread.is_alive():
                    raise RuntimeError("the Graph test server did not start")
                time.sleep(0.01)
            try:
                yield self
            finally:
                server.should_exit = True
                thread.join(timeout=5)
        finally:
            sock.close()
