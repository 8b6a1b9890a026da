"""`vcf:PATH` — a folder of .vcf files, one contact per file.

Item ids: see `vcf_names` (new files: a readable name whose suffix is the id; older ones: the
card's UID, encoded, as the name; listing never opens a file).

Versions. `{mtime_ns}-{size}-{inode}` from the directory listing: personsync's writes either
make a new file renamed into place (a new inode) or put a Customer ID line into the card in
place (the file grows), and edits by other programs change the mtime, compared to the
nanosecond. The limit (docs/sync.md, "Versions of a file"): an edit in place of the same size
within the same tick of the filesystem's clock as the version recorded (1-10 ms on Linux, 2 s
on FAT) is not seen.

A card whose file is a symbolic link is read, never written: an update or delete of it fails,
naming it (the link may lead out of the folder; writes stay inside).

A file holding several cards is reported (each card named) and none of them is synced: a file is
one contact here (`card_reader.parse_file`; `vcf-file:` reads a file of many cards). Should a
second card appear in a file between a read and a write, the write keeps it.

Writes are atomic (`stores.atomic`); a Customer ID put into a card that ends the file goes in
place (`card_files.insert_line`).
"""

from __future__ import annotations

import hashlib
import os
import time
from array import array
from collections.abc import Callable, Container, Iterator, Sequence
from dataclasses import replace
from itertools import compress, islice, repeat
from pathlib import Path
from stat import S_ISREG
from typing import Any, NamedTuple

from personsync.errors import (
    ConflictError,
    FolderNotFound,
    ItemNotFound,
    StoreError,
)
from personsync.formats.vcard import card_version, write_card
from personsync.formats.vcard_read import VCardExtra
from personsync.model import Contact, field_values
from personsync.stores.atomic import sync_all, write_atomic
from personsync.stores.base import (
    Capabilities,
    Finish,
    InterruptedWrite,
    ItemRef,
    ReadProblem,
    StoreBase,
)
from personsync.stores.card_files import (
    PLAIN_ID,
    NewCard,
    after_first_card,
    customer_id_line,
    file_version,
    insert_line,
    mend_insert,
    size_of,
    version_of,
)
from personsync.stores.card_reader import DEFAULT_MIN as DEFAULT_MIN_READ
from personsync.stores.card_reader import parse_file, read_file, read_many
from personsync.stores.file_writer import DEFAULT_MIN_BATCH, FileWriter, Job, Written
from personsync.stores.vcf_names import (
    SUFFIX,
    Listed,
    NewUids,
    Taken,
    decode_stem,
    encode_uid,
    readable_stem,
    suffix_id,
)

_set_id = vars(ItemRef)["item_id"].__set__  # the slots' descriptors
_set_version = vars(ItemRef)["version"].__set__


def _item_ref(item_id: str, version: str) -> ItemRef:
    """ItemRef(item_id, version) through its slots, without the frozen dataclass's __init__
    (two Python-level setattr calls): a third of the listing's own Python time."""
    ref: ItemRef = object.__new__(ItemRef)
    _set_id(ref, item_id)
    _set_version(ref, version)
    return ref


# A file's ctime this close to now may be followed by another write in the same tick of the
# filesystem's clock, with the same ctime: 1-10 ms on Linux, up to 2 s on FAT (docs/sync.md).
RACY_MS = 3000


class _Listing(NamedTuple):
    """One pass over the folder: the card files' names and stat fields, and the names of those
    that are symbolic links."""

    names: list[str]
    mtimes: list[int]
    sizes: list[int]
    inodes: list[int]
    ctimes: list[int]
    links: list[str]


def _first(name: str, other: str) -> bool:
    """Of two files with one suffix, whether `name` keeps the id: the shorter name (the
    original: "Copy of ..." adds words), then the smaller, whatever order the folder lists
    them in. The other is a foreign file, named by its whole name."""
    return (len(name), name) < (len(other), other)


def _is_card(name: str) -> bool:
    # Temp files of write_atomic end in .tmp, so the suffix test excludes them.
    return name[-4:].lower() == ".vcf"


_CHUNK = 1024  # files stat'ed at a time by `_stat_listing`


def _add_chunk(listing: _Listing, entries: list[os.DirEntry[str]]) -> None:
    """The names and stat fields of the card files among `entries` (regular files; for a
    symbolic link, its target's), added to `listing`; the names of links to its `links`."""
    names = [e.name for e in entries]
    if not all(map(str.endswith, names, repeat(".vcf"))):  # another file, or a .VCF
        cards = [_is_card(name) for name in names]
        entries, names = list(compress(entries, cards)), list(compress(names, cards))
    try:
        stats = list(map(os.DirEntry.stat, entries))
    except FileNotFoundError:  # a file removed since the folder was read, a broken link
        there = [_is_there(e) for e in entries]
        entries, names = list(compress(entries, there)), list(compress(names, there))
        stats = list(map(os.DirEntry.stat, entries))  # cached by each entry
    if not all(map(S_ISREG, [st.st_mode for st in stats])):
        regular = [S_ISREG(st.st_mode) for st in stats]
        entries, names = list(compress(entries, regular)), list(compress(names, regular))
        stats = list(compress(stats, regular))
    if any(map(os.DirEntry.is_symlink, entries)):
        listing.links.extend(e.name for e in entries if e.is_symlink())
    listing.names.extend(names)
    listing.mtimes.extend([st.st_mtime_ns for st in stats])
    listing.sizes.extend([st.st_size for st in stats])
    listing.inodes.extend([st.st_ino for st in stats])
    listing.ctimes.extend([st.st_ctime_ns for st in stats])


def _is_there(entry: os.DirEntry[str]) -> bool:
    try:
        entry.stat()
    except FileNotFoundError:
        return False
    return True


class VcfFolderStore(StoreBase):
    def __init__(
        self,
        path: Path,
        url: str,
        *,
        version: str | None = None,
        fallback_encoding: str = "cp1252",
        write_helper_from: int = DEFAULT_MIN_BATCH,
        read_helper_from: int = DEFAULT_MIN_READ,
        racy_ms: int = 0,
    ) -> None:
        """`write_helper_from`, `read_helper_from`: the batch sizes from which the helper
        processes write and read (below them, starting one costs more than it saves; the tests
        lower them to put small folders through the helpers). `racy_ms`: how recent a file's
        ctime makes the folder's change mark untrusted (`change_mark`; `RACY_MS` unless a test
        with a filesystem of finer ticks wants to wait less)."""
        self.path = path
        self.write_helper_from = write_helper_from
        self.read_helper_from = read_helper_from
        self._dir = str(path)
        self.racy_ns = (racy_ms or RACY_MS) * 1_000_000
        self._new_uid = NewUids()
        self.url = url
        self.version = version  # None: rewrite a card in its own version, new cards in 3.0
        self.fallback_encoding = fallback_encoding
        self.capabilities = Capabilities()
        self._names: dict[str, str] = {}  # item id → file name, for files with foreign names
        # Item ids listed whose file name is their encoded UID (`encode_uid`), found without a
        # look-up (the listing's own strings: a dict of their names cost 14 MB); and for each
        # item read or written here, the version of its file when it held one card only.
        self._listed = Listed()
        # Item ids listed whose file is a symbolic link: read, never written (`_not_a_link`).
        self._links: set[str] = set()
        self._listing: _Listing | None = None  # stat'ed by `change_mark`, for `list_items`
        # Readable names of new files written by the helper in this run, looked up by suffix when
        # first asked for (`_made` does not remember 100,000 of them: 17 MB): suffix → name.
        self._late: dict[str, str] | None = None
        self._durable = True
        self._file_writer: FileWriter | None = None
        # Repeated values of the cards read (cities, first names…) as one object each: a third
        # less memory for a run that reads 100,000 cards. Lives as long as the store (a run).
        self._shared: dict[Any, Any] = {}

    # --- ids and files ---------------------------------------------------------------------------

    def _item_id(self, name: str, taken: Container[str]) -> str:
        stem = name[:-4]
        item_id = decode_stem(stem) or suffix_id(stem) or stem
        if item_id in taken:  # `Foo.vcf` beside `%46oo.vcf`: the foreign one is named in full
            item_id = name
        return item_id

    def _file(self, item_id: str) -> Path | None:
        name = self._file_name(item_id)
        return None if name is None else Path(name)

    def _file_name(self, item_id: str) -> str | None:
        """The path of `item_id`'s file, as a string: the names a listing knows are joined
        without pathlib (a run asks for 100,000 of them, and pathlib took 5 µs each)."""
        name = self._names.get(item_id)
        if name is not None:
            return os.path.join(self._dir, name)
        if item_id in self._listed:  # gone since the listing? Reading or writing it says so.
            return os.path.join(self._dir, encode_uid(item_id) + ".vcf")
        if SUFFIX.fullmatch(item_id):
            name = self._made_here(item_id)
            if name is not None:
                return os.path.join(self._dir, name)
        candidates = [encode_uid(item_id) + ".vcf"]
        plain = not any(c in item_id for c in "/\\\0")
        if item_id and plain and not item_id.startswith("."):
            candidates += [item_id + ".vcf", item_id]
        for candidate in candidates:
            path = os.path.join(self._dir, candidate)
            try:
                if candidate.lower().endswith(".vcf") and os.path.isfile(path):
                    return path
            except (OSError, ValueError):  # a name too long or otherwise impossible: none
                continue
        return None

    def _made_here(self, suffix: str) -> str | None:
        """The name of a file with this suffix made since the listing: looked for in the folder
        once for all of them, and again only for one made since that look."""
        if self._late is None or suffix not in self._late:
            self._late = {}
            for entry in self._scan():
                found = suffix_id(entry.name[:-4])
                other = self._late.get(found or "")
                if found is not None and (other is None or _first(entry.name, other)):
                    self._late[found] = entry.name
        return self._late.get(suffix)

    def _scan(self) -> Iterator[os.DirEntry[str]]:
        try:
            with os.scandir(self.path) as entries:
                for entry in entries:
                    if _is_card(entry.name) and entry.is_file():
                        yield entry
        except FileNotFoundError as exc:
            raise FolderNotFound(f"{self.url}: the folder {self.path} is gone") from exc
        except OSError as exc:
            raise StoreError(f"{self.url}: cannot list {self.path}: {exc.strerror}") from exc

    # --- reading -------------------------------------------------------------------------------

    def _stat_listing(self) -> _Listing:
        """Every card file's name and `stat`, with no Python code run per file where C can do
        it (`map` over `DirEntry.stat`, fields taken by comprehension): the pass is mostly the
        system calls, which a change mark cannot do without (a file rewritten in place changes
        only its own times). Files are counted as `_scan` counts them: `*.vcf`, regular, or a
        symbolic link to a regular file (whose target's times count).

        `DirEntry.stat` takes no keyword (a `partial` of `os.stat` with `dir_fd` built a dict of
        keywords per file) and the files are stat'ed `_CHUNK` at a time, so that their `stat`
        objects are freed as the pass goes (12,000 fewer page faults for 100,000 files): the
        pass went from 1.6 to 1.46 billion instructions there (docs/benchmarks.md)."""
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY)
        except FileNotFoundError as exc:
            raise FolderNotFound(f"{self.url}: the folder {self.path} is gone") from exc
        except OSError as exc:
            raise StoreError(f"{self.url}: cannot list {self.path}: {exc.strerror}") from exc
        listing = _Listing([], [], [], [], [], [])
        try:
            with os.scandir(fd) as found:
                left = iter(found)
                while entries := list(islice(left, _CHUNK)):
                    _add_chunk(listing, entries)
        except OSError as exc:
            raise StoreError(f"{self.url}: cannot list {self.path}: {exc.strerror}") from exc
        finally:
            os.close(fd)
        return listing

    def change_mark(self) -> str | None:
        """Every card file's name, mtime, size, inode and ctime (changed by any write, even one
        that puts the mtime back, and by renames), and the names of symbolic links, as one
        digest (`MarksChanges`). None when a file's ctime is within `racy_ns` of now: a write in
        the same tick of the filesystem's clock would leave it as it is."""
        started = time.time_ns()
        listing = self._listing = self._stat_listing()
        if listing.ctimes and max(listing.ctimes) > started - self.racy_ns:
            return None
        digest = hashlib.blake2b(digest_size=20)
        for names in (listing.names, listing.links):
            digest.update("/".join(names).encode("utf-8", "surrogateescape") + b"\0")
        for numbers in (listing.mtimes, listing.sizes, listing.inodes, listing.ctimes):
            digest.update(array("Q", numbers).tobytes())
        return f"{len(listing.names)}-{digest.hexdigest()}"

    def list_items(self) -> Iterator[ItemRef]:
        # A no-op run's listing of 100,000 files: the stat of each file is the floor (about
        # 3.5 µs here, in the kernel); the Python around it is kept to a few operations a file.
        # The listing a change mark was just made of is the one listed (`change_mark`).
        listing, self._listing = self._listing or self._stat_listing(), None
        refs: list[ItemRef] = []
        names: dict[str, str] = {}  # item id → file name, where that is not `encode_uid`'s
        ours: dict[str, str] = {}  # item id → "" (`Listed.relist`)
        foreign: list[tuple[str, str]] = []
        again: list[tuple[str, str, str]] = []  # a second file with a suffix already listed
        ref = _item_ref
        versions = [  # `file_version`
            f"{m}-{size}-{i}"
            for m, size, i in zip(listing.mtimes, listing.sizes, listing.inodes, strict=True)
        ]
        for name, version in zip(listing.names, versions, strict=True):
            stem = name[:-4]
            # Ours are written as `*.vcf`: a `c.Vcf` is foreign, named by its own name (taken
            # for ours, its file was looked for as `c.vcf`, and the card was never read).
            uid = decode_stem(stem) if name[-4:] == ".vcf" else None
            if uid is not None:
                ours[uid] = ""
                refs.append(ref(uid, version))
                continue
            suffix = suffix_id(stem)
            if suffix is None:
                foreign.append((name, version))
            elif suffix in names:
                again.append((suffix, name, version))
            else:
                names[suffix] = name
                refs.append(ref(suffix, version))
        for suffix, name, version in again:
            # Two files with one suffix (a copy named "Copy of ..."): see `_first`. Rare, so
            # the ref already listed is looked for in the list.
            if _first(name, names[suffix]):
                at = next(i for i, r in enumerate(refs) if r.item_id == suffix)
                foreign.append((names[suffix], refs[at].version))
                names[suffix], refs[at] = name, ref(suffix, version)
            else:
                foreign.append((name, version))
        # Names personsync made first, so that a foreign `Foo.vcf` never takes the id of the
        # file `%46oo.vcf` (UID Foo), whatever order the directory lists them in.
        taken = Taken(ours, names)
        for name, version in foreign:
            item_id = self._item_id(name, taken)
            names[item_id] = name
            refs.append(ref(item_id, version))
        self._names, self._late = names, None
        self._listed.relist(ours)
        self._links = set()
        if listing.links:
            by_name = {name: item_id for item_id, name in names.items()}
            self._links = {
                by_name.get(name) or decode_stem(name[:-4]) or name for name in listing.links
            }
        return iter(refs)

    def _read(self, path: Path) -> tuple[bytes, str] | None:
        try:
            return read_file(str(path))
        except OSError as exc:
            raise StoreError(f"{self.url}: cannot read {path.name}: {exc.strerror}") from exc

    def _contact(self, item_id: str, path: Path, data: bytes, ver: str) -> Contact | ReadProblem:
        got, single = parse_file(
            item_id, str(path), data, ver, self.fallback_encoding, self._shared
        )
        self._remember(item_id, got, ver, single)
        return got

    def _remember(self, item_id: str, got: Contact | ReadProblem, ver: str, single: bool) -> None:
        self._listed.one_card(item_id, ver if isinstance(got, Contact) and single else None)

    def get_many(self, item_ids: Sequence[str]) -> Iterator[Contact | ReadProblem]:
        """A big read (an import's) is parsed half here, half by a helper process
        (`card_reader`); the items come in chunk order then."""
        for item_id, got in read_many(
            item_ids, self._file_name, self.fallback_encoding, self._shared, self.read_helper_from
        ):
            if got is None:
                continue  # gone since it was listed
            if isinstance(got, str):
                raise StoreError(f"{self.url}: {got}")
            contact, ver, single = got
            self._remember(item_id, contact, ver, single)
            yield contact

    def find_by_customer_id(self, customer_id: str) -> list[Contact]:
        # A byte search skips the files that cannot hold it before anything is parsed. Only
        # for plain ids: longer or escaped ones may be folded or escaped in the file.
        needle = customer_id.encode() if PLAIN_ID.fullmatch(customer_id) else b""
        found: list[Contact] = []
        for ref in self.list_items():
            path = self._file(ref.item_id)
            got = self._read(path) if path is not None else None
            if path is None or got is None or (needle and needle not in got[0]):
                continue
            contact = self._contact(ref.item_id, path, *got)
            if isinstance(contact, Contact) and contact.customer_id == customer_id:
                found.append(contact)
        return found

    # --- writing -------------------------------------------------------------------------------

    def _card(self, contact: Contact, uid: str, rest: bytes = b"") -> bytes:
        version = self.version or card_version(contact)
        return write_card(contact, version, uid=uid) + rest

    # Batches: one sync for the batch instead of an fsync per file (100,000 fsyncs take
    # minutes). Large ones go to the helper process (`file_writer`), begun now and collected
    # later, so the engine records one batch while the next is written. What the helper can do
    # from plain values it does itself: render new cards, put a Customer ID into a card.
    def create_many(self, contacts: Sequence[Contact]) -> list[ItemRef | StoreError]:
        return self.begin_create_many(contacts)()

    def update_many(self, pairs: Sequence[tuple[Contact, Contact]]) -> list[ItemRef | StoreError]:
        return self.begin_update_many(pairs)()

    def begin_create_many(self, contacts: Sequence[Contact]) -> Finish:
        writer = self._writer(len(contacts))
        if writer is None:
            return self._in_process(lambda: super(VcfFolderStore, self).create_many(contacts))
        taken: set[str] = set()

        def prepare(contact: Contact) -> tuple[Job, tuple[str, str, bool]]:
            uid, name, fresh = self._new_name(contact, taken)
            taken.add(uid)
            if contact.extra is None:  # nothing kept from an earlier card: the helper renders
                card: bytes | NewCard = (
                    self.version or card_version(contact),
                    uid,
                    field_values(contact.record),
                    contact.customer_id,
                )
            else:
                card = self._card(contact, uid)
            job = (os.path.join(self.path, name), card, fresh)
            return job, (self._item_id(name, ()), name, fresh)

        def done(made: tuple[str, str, bool], written: Written) -> ItemRef:
            item_id, name, fresh = made
            version = version_of(*written)
            if not fresh:  # a new file is found by its suffix when asked for (`_made_here`)
                self._made(item_id, name, version)
            return _item_ref(item_id, version)

        return writer.begin(contacts, prepare, done)

    def begin_update_many(self, pairs: Sequence[tuple[Contact, Contact]]) -> Finish:
        writer = self._writer(len(pairs))
        if writer is None:
            return self._in_process(lambda: super(VcfFolderStore, self).update_many(pairs))
        seen: set[str] = set()

        def prepare(pair: tuple[Contact, Contact]) -> tuple[Job, tuple[str, bool]]:
            old, new = pair
            if old.item_id in seen:  # its first write would have changed its version
                raise ConflictError(f"{self.url}: {old.item_id} is written twice in a batch")
            seen.add(old.item_id)
            line = self._customer_id_only(old, new)
            if line is not None:  # the helper puts the line in: this process renders nothing
                return (self._existing(old.item_id), line, old.version), (old.item_id, True)
            path, data, more = self._rewrite(old, new)
            return (str(path), data, False), (old.item_id, more)

        def done(made: tuple[str, bool], written: Written) -> ItemRef:
            item_id, more = made
            return _item_ref(item_id, self._written(item_id, version_of(*written), more))

        return writer.begin(pairs, prepare, done)

    def _in_process(self, write: Callable[[], list[ItemRef | StoreError]]) -> Finish:
        self._durable = False
        try:
            results = write()
        finally:
            self._durable = True
            sync_all()
        return lambda: results

    def _writer(self, size: int) -> FileWriter | None:
        """The helper for a batch of `size`, or None to write in-process (a small batch, or
        the helper stopped earlier in this run)."""
        if size < self.write_helper_from:
            return None
        if self._file_writer is None:
            self._file_writer = FileWriter(self.url)
        return None if self._file_writer.failed is not None else self._file_writer

    def close(self) -> None:
        self._shared.clear()
        if self._file_writer is not None:
            self._file_writer.close()
            self._file_writer = None

    def _new_name(self, contact: Contact, taken: Container[str] = ()) -> tuple[str, str, bool]:
        """(UID, file name, fresh): a wished-for id may be taken; a fresh UID (`NewUids`) gives
        a readable name (`vcf_names.readable_stem`) whose suffix no file has, so it needs no
        look-up (and the file is made as a new one: were the name taken after all, say by
        another program in the same millisecond, that file would be replaced atomically)."""
        uid = contact.item_id
        fresh = (
            not uid
            or uid in taken
            or uid in self._names
            or self._file(uid) is not None
            or os.path.lexists(os.path.join(self.path, encode_uid(uid) + ".vcf"))
        )
        if fresh:
            uid = self._new_uid()
            return uid, readable_stem(contact.record, uid) + ".vcf", True
        return uid, encode_uid(uid) + ".vcf", False

    def create(self, contact: Contact) -> ItemRef:
        uid, name, fresh = self._new_name(contact)
        stat = write_atomic(
            os.path.join(self.path, name),
            self._card(contact, uid),
            durable=self._durable,
            new=fresh,
        )
        item_id = self._item_id(name, ())  # a fresh file's suffix
        version = file_version(stat)
        self._made(item_id, name, version)
        return ItemRef(item_id, version)

    def _made(self, item_id: str, name: str, version: str) -> None:
        # Called for the files made in this process (small batches) and for wished-for UIDs; the
        # helper's big batches of new files are found by their suffix when asked for
        # (`_made_here`): remembering 100,000 names cost about 20 MB in a big export.
        if name != encode_uid(item_id) + ".vcf":
            self._names[item_id] = name
            self._listed.one_card(item_id, version)

    def _current(self, item_id: str, version: str) -> tuple[Path, bytes]:
        path = self._file(item_id)
        got = self._read(path) if path is not None else None
        if path is None or got is None:
            raise ItemNotFound(f"{self.url}: no contact {item_id!r}")
        data, current = got
        if current != version:
            raise ConflictError(
                f"{self.url}: {path.name} changed since it was read",
                hint="run again: personsync reads the new version first",
            )
        return path, data

    def _checked(self, item_id: str, version: str) -> Path:
        """The file of `item_id` if it is still at `version` (one stat, no read)."""
        path = self._file(item_id)
        try:
            current = file_version(os.stat(path)) if path is not None else None
        except FileNotFoundError:
            current = None
        except OSError as exc:
            raise StoreError(f"{self.url}: cannot read {item_id}: {exc.strerror}") from exc
        if path is None or current is None:
            raise ItemNotFound(f"{self.url}: no contact {item_id!r}")
        if current != version:
            raise ConflictError(
                f"{self.url}: {path.name} changed since it was read",
                hint="run again: personsync reads the new version first",
            )
        return path

    def _not_a_link(self, item_id: str) -> None:
        """Refuse to write a card whose file is a symbolic link: the link may lead out of the
        folder (`f/link.vcf -> ../outside/target.vcf`), and a folder's writes stay inside it.
        Such a card is read like any other. (Writes in place also refuse to follow a link,
        `card_files.insert_line`, for a link made since the listing.)"""
        if item_id in self._links:
            raise StoreError(
                f"{self.url}: contact {item_id!r} is a symbolic link to a file elsewhere: "
                "personsync reads it but never writes through a link",
                hint="to sync it, replace the link with a copy of the file",
            )

    def _rewrite(self, old: Contact, new: Contact) -> tuple[Path, bytes, bool]:
        """For an update of `old` to `new`: the file (checked to be still at the version read),
        its new bytes, and whether cards after the first are in it (kept as they are)."""
        self._not_a_link(old.item_id)
        if self._listed.single(old.item_id) == old.version:
            path, data = self._checked(old.item_id, old.version), b""
        else:  # cards after the first may be in the file: read it to keep them
            path, data = self._current(old.item_id, old.version)
        if new.extra is None and old.extra is not None:
            new = replace(new, extra=old.extra)  # the lines personsync does not map stay
        extra = new.extra if isinstance(new.extra, VCardExtra) else None
        uid = (extra.uid if extra else "") or old.item_id
        rest = after_first_card(data)
        return path, self._card(new, uid, rest), bool(rest)

    def _customer_id_only(self, old: Contact, new: Contact) -> bytes | None:
        """The one line to put into `old`'s card when `new` is `old` with a Customer ID where it
        had none (how a link is written back): then the card keeps every other byte. None
        when anything else changes, or the card is to change its vCard version."""
        if (
            old.customer_id
            or new.record is not old.record
            or new.extra is not old.extra
            or new.item_id != old.item_id
            or not isinstance(old.extra, VCardExtra)
            or (self.version is not None and self.version != old.extra.version)
        ):
            return None
        return customer_id_line(new.customer_id)

    def _existing(self, item_id: str) -> str:
        self._not_a_link(item_id)
        path = self._file_name(item_id)
        if path is None:
            raise ItemNotFound(f"{self.url}: no contact {item_id!r}")
        return path

    def _written(self, item_id: str, version: str, more: bool) -> str:
        """Remember a written file's version when it holds one card (`more`: it may hold
        more, or this process does not know)."""
        self._listed.one_card(item_id, None if more else version)
        return version

    def update(self, old: Contact, new: Contact) -> ItemRef:
        line = self._customer_id_only(old, new)
        if line is not None:
            where = self._existing(old.item_id)
            version = file_version(insert_line(where, line, old.version, durable=self._durable))
            return ItemRef(old.item_id, self._written(old.item_id, version, True))
        path, data, more = self._rewrite(old, new)
        version = file_version(write_atomic(path, data, durable=self._durable))
        return ItemRef(old.item_id, self._written(old.item_id, version, more))

    def finish_interrupted(self, writes: Sequence[InterruptedWrite]) -> list[str]:
        """Customer IDs put in place (`insert_line`) that a power cut left half-written are
        written whole; every other file is left as it is."""
        mended: list[str] = []
        for write in writes:
            path = self._file(write.item_id)
            size = size_of(write.version)
            line = customer_id_line(write.customer_id)
            got = self._read(path) if path is not None else None
            if path is None or got is None or size is None or line is None:
                continue
            whole = mend_insert(got[0], size, line)
            if whole is not None:
                write_atomic(path, whole, durable=True)
                mended.append(
                    f"{path.name}: a Customer ID that an interrupted run was writing had been "
                    "cut short (the machine stopped); it is now whole"
                )
        return mended

    def delete(self, ref: ItemRef) -> None:
        self._not_a_link(ref.item_id)
        path = self._checked(ref.item_id, ref.version)
        self._listed.one_card(ref.item_id, None)
        try:
            path.unlink()
        except OSError as exc:
            raise StoreError(f"{self.url}: cannot delete {path.name}: {exc.strerror}") from exc


def open_store(
    rest: str,
    *,
    create: bool = True,
    version: str | None = None,
    fallback_encoding: str = "cp1252",
    write_helper_from: int = DEFAULT_MIN_BATCH,
    read_helper_from: int = DEFAULT_MIN_READ,
    racy_ms: int = RACY_MS,
    **options: Any,
) -> VcfFolderStore:
    path = Path(rest).expanduser()
    if path.is_file():
        raise StoreError(
            f"vcf:{rest} is a file, not a folder", hint=f"for one file of cards use vcf-file:{rest}"
        )
    if not path.is_dir():
        if not create:
            raise FolderNotFound(f"no folder {path}", hint="check the path, or let it be created")
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the folder {path}: {exc.strerror}") from exc
    return VcfFolderStore(
        path,
        f"vcf:{rest}",
        version=version,
        fallback_encoding=fallback_encoding,
        write_helper_from=write_helper_from,
        read_helper_from=read_helper_from,
        racy_ms=racy_ms,
    )


def list_folders(rest: str, **options: Any) -> list[str]:
    """The folder and its sub-folders that hold .vcf files (hidden folders skipped)."""
    root = Path(rest).expanduser()
    if not root.is_dir():
        raise FolderNotFound(f"no folder {root}")
    found = [f"vcf:{rest}"]
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if not d.startswith("."))
        if Path(directory) != root and any(f.lower().endswith(".vcf") for f in files):
            found.append(f"vcf:{Path(rest) / Path(directory).relative_to(root)}")
    return found
