"""Reading many cards with one `shared` dict: repeated values become one object, equal as before."""

from personsync.formats.vcard import read_cards
from personsync.model import Contact
from personsync.stores.vcf_folder import VcfFolderStore

CARD = (
    "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nN:{last};Mary;;;\r\nFN:Mary {last}\r\n"
    "ADR;TYPE=HOME:;;1 Rue de la Paix;Marseille;Provence;13001;France\r\n"
    "CATEGORIES:VIP,Holiday Card\r\nEMAIL:{uid}@example.com\r\nEND:VCARD\r\n"
)


def _read(text: str, shared: dict | None) -> Contact:
    (got,) = read_cards(text.encode(), "x.vcf", shared=shared)
    assert isinstance(got, Contact)
    return got


def test_repeated_values_are_one_object_and_unique_ones_stay_apart():
    shared: dict = {}
    a = _read(CARD.format(uid="a1", last="Smith"), shared)
    b = _read(CARD.format(uid="b2", last="Jones"), shared)
    assert a.record.home_city == "Marseille" and a.record.home_city is b.record.home_city
    assert a.record.first_name is b.record.first_name
    assert all(x is y for x, y in zip(a.record.categories, b.record.categories, strict=True))
    assert (a.record.last_name, b.record.last_name) == ("Smith", "Jones")
    assert (a.record.email1, b.record.email1) == ("a1@example.com", "b2@example.com")


def test_sharing_changes_no_value():
    text = CARD.format(uid="a1", last="Smith")
    assert _read(text, {}).record == _read(text, None).record
    # Without a shared dict, two reads keep their own strings (what sharing saves).
    assert _read(text, None).record.home_city is not _read(text, None).record.home_city


def test_a_folder_shares_values_across_its_files(tmp_path):
    for uid, last in (("a1", "Smith"), ("b2", "Jones")):
        (tmp_path / f"{uid}.vcf").write_text(CARD.format(uid=uid, last=last), newline="")
    store = VcfFolderStore(tmp_path, f"vcf:{tmp_path}")
    ids = sorted(ref.item_id for ref in store.list_items())
    a, b = store.get_many(ids)
    assert isinstance(a, Contact) and isinstance(b, Contact)
    assert a.record.home_city is b.record.home_city
    assert (a.record.last_name, b.record.last_name) == ("Smith", "Jones")
    store.close()


def test_an_fn_that_is_the_display_name_is_not_kept_twice_and_is_written_the_same():
    from personsync.formats.vcard import write_card

    same = _read(CARD.format(uid="a1", last="Smith"), None)
    assert same.extra.fn == ""  # "Mary Smith": what the record's display name gives anyway
    other = _read(CARD.format(uid="a1", last="Smith").replace("FN:Mary Smith", "FN:Dr M."), None)
    assert other.extra.fn == "Dr M."
    for contact, fn in ((same, b"FN:Mary Smith\r\n"), (other, b"FN:Dr M.\r\n")):
        assert fn in write_card(contact, "3.0")  # written back as it was read


def test_a_file_named_after_its_uid_keeps_one_string_for_both(tmp_path):
    # The UID in the card and the item id the file name gives: one string, not two equal ones.
    for uid in ("0193a1b2-7c3d-7e4f-8a5b-0123456789ab", "other"):
        (tmp_path / f"{uid}.vcf").write_text(CARD.format(uid=uid, last="Lee"))
    store = VcfFolderStore(tmp_path, f"vcf:{tmp_path}")
    ids = [ref.item_id for ref in store.list_items()]
    got = {c.item_id: c for c in store.get_many(ids)}
    assert len(got) == 2
    for contact in got.values():
        assert contact.extra.uid == contact.item_id and contact.extra.uid is contact.item_id
