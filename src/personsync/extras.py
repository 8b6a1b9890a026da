"""Optional parts of personsync and the pip extra that installs each.

FastAPI and uvicorn are not in the base install: only the Graph test server (`personsync graph
test-server`) and the web console (`personsync serve`) need them, both from the `server` extra.
"""

from __future__ import annotations

import importlib.util

from personsync.errors import ConfigError

SERVER = "server"
SERVER_MODULES = ("fastapi", "uvicorn")


def require(extra: str, modules: tuple[str, ...], purpose: str) -> None:
    """Raise one clear ConfigError naming the extra when any of `modules` is not installed."""
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise ConfigError(
            f"{purpose} needs {' and '.join(missing)}, which are not installed",
            hint=f"install them with: pip install 'personsync[{extra}]'",
        )


def require_server(purpose: str) -> None:
    """The `server` extra (FastAPI and uvicorn) for `purpose`."""
    require(SERVER, SERVER_MODULES, purpose)
