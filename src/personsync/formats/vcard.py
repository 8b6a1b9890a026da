"""The vCard codec: bytes ⇄ contacts, no policy (stores decide ids, versions and files).

`read_cards` reads vCard 2.1, 3.0 and 4.0 as Outlook, Apple, Google and the RFCs write them and
yields a `Contact` per card or a `FormatError` for a card (or stray text) it cannot read, then
goes on. A card's UID comes as `Contact.item_id`; stores replace it with their own item id.
`write_card` writes 3.0 (default), 4.0 or 2.1. A card read and written back keeps every line
personsync does not map (photos, keys, X- properties, values beyond the record's slots) in
`Contact.extra`. The parts: `vcard_lines` (reading content lines), `vcard_text` (escaping,
folding), `vcard_map` (the mapping table's vCard side), `vcard_read` and `vcard_write`.
"""

from __future__ import annotations

from collections.abc import Iterator

from personsync.errors import FormatError
from personsync.formats.vcard_lines import RawCard, decode_file, iter_cards
from personsync.formats.vcard_read import VCardExtra, to_contact
from personsync.formats.vcard_write import write_card, write_cards
from personsync.model import Contact

__all__ = [
    "VCardExtra",
    "card_version",
    "decode_file",
    "read_cards",
    "read_text",
    "write_card",
    "write_cards",
]


def read_cards(
    data: bytes, source: str = "", *, fallback_encoding: str = "cp1252"
) -> Iterator[Contact | FormatError]:
    """Every card in `data`, in file order. Text that is not UTF-8 is read as
    `fallback_encoding` (Outlook writes cp1252 files). Never raises for bad input."""
    text, encoding = decode_file(data, fallback_encoding)
    if "\x00" in text[:4096] and "BEGIN:" not in text[:4096].upper():
        yield FormatError("not a vCard file (binary data)", source=source, line=1)
        return
    yield from read_text(text, source, encoding)


def read_text(
    text: str, source: str = "", encoding: str = "utf-8", first_line: int = 1
) -> Iterator[Contact | FormatError]:
    """`read_cards` for text already decoded (`encoding` is what quoted-printable values
    without CHARSET were written in); `first_line` numbers the text's first line."""
    for item in iter_cards(text, source, encoding, first_line):
        if isinstance(item, RawCard):
            yield to_contact(item, source)
        else:
            yield item


def card_version(contact: Contact, default: str = "3.0") -> str:
    """The version the contact's card was read in (to write it back alike), else `default`."""
    extra = contact.extra
    return extra.version if isinstance(extra, VCardExtra) else default
