"""A Graph client from options (tests, CLI) or from the configuration and the sign-in cache."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from personsync.errors import ConfigError
from personsync.graph.client import GraphClient
from personsync.graph.config import GraphConfig
from personsync.graph.limits import Limits, RetryPolicy, WaitCallback


def make_client(
    *,
    config: GraphConfig | None = None,
    token: str | Callable[[], str] | None = None,
    mailbox: str = "",
    http: httpx.Client | None = None,
    on_wait: WaitCallback | None = None,
    limits: Limits | None = None,
    retry: RetryPolicy | None = None,
    timeout: float = 30.0,
    **options: Any,
) -> GraphClient:
    """A Graph client from options (tests, CLI) or from the configuration and sign-in cache."""
    cfg = (config or GraphConfig.load()).with_options(mailbox=mailbox, **options)
    provider: Callable[[], str]
    refresh: Callable[[], str] | None = None
    if isinstance(token, str):
        fixed = token
        provider = lambda: fixed  # noqa: E731
    elif token is not None:
        provider = token
    else:
        from personsync.graph.auth import GraphAuth

        auth = GraphAuth(cfg)
        provider, refresh = auth.token, auth.refresh
    if cfg.app_only and not cfg.mailbox:
        raise ConfigError(
            "app-only sign-in (client secret) needs the mailbox to work on",
            hint="pass --mailbox user@example.org or set PERSONSYNC_GRAPH_MAILBOX",
        )
    return GraphClient(
        cfg.base_url,
        provider,
        mailbox=cfg.mailbox,
        http=http,
        timeout=timeout,
        retry=retry,
        limits=limits,
        on_wait=on_wait,
        refresh=refresh,
    )
