"""Microsoft Graph's error answers as errors a person can act on (one hint each), and which of
them mean "this one item is gone" rather than "stop".

The statuses are those of "Microsoft Graph error responses and resource types"
(https://learn.microsoft.com/en-us/graph/errors); the Outlook error codes matched here
(ErrorInvalidIdMalformed, ErrorItemNotFound, ErrorQuotaExceeded, MailboxNotEnabledForRESTAPI,
ErrorAccessDenied) are what the service sends in `error.code` but no Graph page lists them: they
are matched by code whatever the status, and anything else falls back to the status (see
docs/graph.md).
"""

from __future__ import annotations

from typing import Any

from personsync.errors import AuthError, ConflictError, ItemNotFound, StoreError, ThrottledError

GONE_CODES = frozenset({"erroritemnotfound", "errorinvalididmalformed", ""})
NOT_ENABLED = "mailboxnotenabledforrestapi"
LIMITS = (
    "Outlook allows each app 10,000 requests per 10 minutes and 150 MB of uploads per "
    "5 minutes per mailbox"
)


def _error(body: Any) -> dict[str, Any]:
    err = body.get("error") if isinstance(body, dict) else None
    return err if isinstance(err, dict) else {}


def error_code(body: Any) -> str:
    return str(_error(body).get("code", ""))


def error_message(body: Any) -> str:
    return str(_error(body).get("message", ""))


def is_gone(status: int, body: Any) -> bool:
    """The item does not exist in this mailbox (deleted, or a stale or foreign id): that item
    alone is skipped. A 404 for the whole mailbox (MailboxNotEnabledForRESTAPI) is not."""
    code = error_code(body).casefold()
    if status == 404:
        return code != NOT_ENABLED
    return status == 400 and code == "errorinvalididmalformed"


def error_for(status: int, body: Any, what: str, *, mailbox: str = "") -> StoreError:
    """A Graph error answer as the error a person can act on."""
    code, said = error_code(body), error_message(body)
    detail = f"{code}: {said}".strip(": ") or f"HTTP {status}"
    key = code.casefold()
    whose = f"mailbox {mailbox}" if mailbox else "your mailbox"
    if key == NOT_ENABLED:
        return StoreError(
            f"{what}: Microsoft Graph cannot reach {whose} ({detail})",
            hint="the account needs an Exchange Online mailbox (a licence, not on-premises); "
            "check the address given with --mailbox",
        )
    if key == "errorquotaexceeded" or status == 507:
        return StoreError(
            f"{what}: {whose} is full ({detail})",
            hint="free space in the mailbox or raise its quota, then run again",
        )
    if status == 401:
        return AuthError(
            f"{what}: Microsoft Graph did not accept the sign-in ({detail})",
            hint="sign in again with `personsync graph login`",
        )
    if status == 403:
        if mailbox:
            hint = (
                f"app-only sign-in: an administrator grants the app the Contacts.ReadWrite "
                "application permission with admin consent (Entra admin center › App "
                "registrations › API permissions › Grant admin consent) and keeps "
                f"{mailbox} inside the app's mailbox access policy; with your own sign-in, "
                f"{mailbox} must be shared with you"
            )
        else:
            hint = (
                "the app needs the Contacts.ReadWrite permission: an administrator grants "
                "consent in the Entra admin center (App registrations › API permissions)"
            )
        return AuthError(f"{what}: Microsoft Graph denied access to {whose} ({detail})", hint=hint)
    if is_gone(status, body):
        return ItemNotFound(f"{what}: not found in {whose} ({detail})")
    if status in (409, 412):
        return ConflictError(f"{what}: changed in Outlook meanwhile ({detail})")
    if status == 429:
        return ThrottledError(
            f"{what}: Microsoft Graph kept asking us to slow down ({detail})",
            hint=f"{LIMITS}; run again later: personsync continues where it stopped",
        )
    if status == 504:
        return StoreError(
            f"{what}: Microsoft Graph's gateway timed out (HTTP 504, {detail})",
            hint="run again in a few minutes: contacts are matched by Customer ID, so none "
            "is doubled",
        )
    if status >= 500:
        return StoreError(
            f"{what}: Microsoft Graph failed (HTTP {status}, {detail})",
            hint="the service has a problem; try again in a few minutes",
        )
    return StoreError(f"{what}: Microsoft Graph refused the request ({detail})")
