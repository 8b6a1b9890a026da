"""WebDAV and CardDAV request bodies and multistatus answers (RFC 4918, 6352, 6578, 5689).

Bytes in, plain data out: no HTTP here. Hrefs are kept as the server wrote them; `href_key`
is the form two spellings of one href compare equal in (`%40` and `@`, absolute or path).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit
from xml.sax.saxutils import escape

from defusedxml.ElementTree import fromstring

DAV = "DAV:"
CARD = "urn:ietf:params:xml:ns:carddav"
_HEAD = '<?xml version="1.0" encoding="utf-8"?>\n'


def q(ns: str, name: str) -> str:
    return f"{{{ns}}}{name}"


def href_key(href: str) -> str:
    """An href as a comparable path: scheme and host dropped, percent-escapes decoded."""
    path = urlsplit(href).path if "://" in href else href
    return unquote(path)


@dataclass
class Response:
    """One `<D:response>`: its href, the status of the whole response (for a removed member
    or a missing href), and the properties found with status 200."""

    href: str
    status: int | None = None
    props: dict[str, ET.Element] = field(default_factory=dict)

    def text(self, ns: str, name: str) -> str:
        element = self.props.get(q(ns, name))
        return (element.text or "").strip() if element is not None else ""

    def has(self, ns: str, name: str) -> bool:
        return q(ns, name) in self.props

    @property
    def etag(self) -> str:
        return self.text(DAV, "getetag")

    def resource_types(self) -> set[str]:
        element = self.props.get(q(DAV, "resourcetype"))
        return {child.tag for child in element} if element is not None else set()

    def href_of(self, ns: str, name: str) -> str:
        """The first `<D:href>` inside a property (current-user-principal, home sets)."""
        element = self.props.get(q(ns, name))
        found = element.find(q(DAV, "href")) if element is not None else None
        return (found.text or "").strip() if found is not None else ""


def _status(text: str | None) -> int | None:
    parts = (text or "").split()
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None


@dataclass
class Multistatus:
    responses: list[Response]
    sync_token: str = ""


def parse_multistatus(data: bytes) -> Multistatus:
    """A multistatus body; raises ValueError when it is not one."""
    try:
        root = fromstring(data)
    except (ET.ParseError, ValueError) as exc:  # defusedxml refuses entities: ValueError
        raise ValueError(f"the server's answer is not XML ({exc})") from exc
    if root.tag != q(DAV, "multistatus"):
        raise ValueError(f"the server's answer is not a WebDAV multistatus ({root.tag})")
    out: list[Response] = []
    for node in root.findall(q(DAV, "response")):
        hrefs = node.findall(q(DAV, "href"))
        status = _status(node.findtext(q(DAV, "status")))
        for href in hrefs:
            response = Response((href.text or "").strip(), status)
            for propstat in node.findall(q(DAV, "propstat")):
                if _status(propstat.findtext(q(DAV, "status"))) != 200:
                    continue
                prop = propstat.find(q(DAV, "prop"))
                for child in prop if prop is not None else ():
                    response.props[child.tag] = child
            out.append(response)
    return Multistatus(out, (root.findtext(q(DAV, "sync-token")) or "").strip())


def _props(props: Iterable[tuple[str, str]]) -> str:
    prefix = {DAV: "D", CARD: "C"}
    return "".join(f"<{prefix[ns]}:{name}/>" for ns, name in props)


def propfind(*props: tuple[str, str]) -> bytes:
    return (
        f'{_HEAD}<D:propfind xmlns:D="DAV:" xmlns:C="{CARD}"><D:prop>{_props(props)}'
        "</D:prop></D:propfind>"
    ).encode()


def sync_collection(token: str) -> bytes:
    return (
        f'{_HEAD}<D:sync-collection xmlns:D="DAV:"><D:sync-token>{escape(token)}</D:sync-token>'
        "<D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>"
    ).encode()


def multiget(hrefs: Iterable[str]) -> bytes:
    body = "".join(f"<D:href>{escape(h)}</D:href>" for h in hrefs)
    return (
        f'{_HEAD}<C:addressbook-multiget xmlns:D="DAV:" xmlns:C="{CARD}">'
        f"<D:prop><D:getetag/><C:address-data/></D:prop>{body}</C:addressbook-multiget>"
    ).encode()


def mkcol_addressbook(display_name: str) -> bytes:
    return (
        f'{_HEAD}<D:mkcol xmlns:D="DAV:" xmlns:C="{CARD}"><D:set><D:prop>'
        "<D:resourcetype><D:collection/><C:addressbook/></D:resourcetype>"
        f"<D:displayname>{escape(display_name)}</D:displayname>"
        "</D:prop></D:set></D:mkcol>"
    ).encode()


def vcard_versions(response: Response) -> Iterator[str]:
    """The vCard versions a collection's `supported-address-data` names."""
    element = response.props.get(q(CARD, "supported-address-data"))
    for child in element if element is not None else ():
        if child.get("content-type", "text/vcard") == "text/vcard":
            yield child.get("version", "3.0")


def error_names(data: bytes) -> set[str]:
    """The preconditions a `<D:error>` body names (`valid-sync-token`, ...)."""
    try:
        root = fromstring(data)
    except (ET.ParseError, ValueError):
        return set()
    return (
        {child.tag.rpartition("}")[2] for child in root} if root.tag == q(DAV, "error") else set()
    )
