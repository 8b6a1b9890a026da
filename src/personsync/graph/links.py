"""Which absolute links (`@odata.nextLink`, `@odata.deltaLink`) the client follows.

"Paging Microsoft Graph data in your app" (https://learn.microsoft.com/en-us/graph/paging) says to
use the entire `@odata.nextLink` URL as given; the host name in it need not be the one the request
went to. The bearer token goes with the request, so a link is followed only to the configured
Graph host, a Microsoft Graph host of a national cloud, or (for the test server) another name of
the loopback interface.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from personsync.errors import StoreError

GRAPH_HOSTS = frozenset(
    {
        "graph.microsoft.com",
        "graph.microsoft.us",
        "dod-graph.microsoft.us",
        "microsoftgraph.chinacloudapi.cn",
    }
)
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


def check(base_url: str, url: str) -> None:
    """Raise unless `url` (relative, or absolute) may carry this client's token."""
    if not url.startswith(("http://", "https://")):
        return
    base, link = urlsplit(base_url), urlsplit(url)
    if link.netloc == base.netloc and link.scheme == base.scheme:
        return
    if link.scheme == "https" and link.hostname in GRAPH_HOSTS:
        return
    if base.hostname in LOOPBACK and link.hostname in LOOPBACK and link.port == base.port:
        return
    raise StoreError(
        f"Microsoft Graph sent a link to another host ({link.scheme}://{link.netloc}); "
        "personsync does not send the sign-in there",
        hint="check PERSONSYNC_GRAPH_BASE_URL; report this if it is the real service",
    )
