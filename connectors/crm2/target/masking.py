"""The copy of a raw record kept in quarantine: enough to see what went wrong, no personal data.

Rules, in order, for every value (nested objects and lists included):

* keys are kept as they are; so are ids — the fields the mapping keys on, and fields whose name
  says id or number (``id``, ``customer_no``, ``AccountId``, ``invoice_number``) — when short;
* a value under a key that names personal data (e-mail, phone, fax, person or contact names,
  street address, postal code, birth date, bank account, national ids) is masked whatever its
  type: an e-mail keeps its first letter and domain, anything else only its last two characters;
* any other text has e-mail addresses and phone-like digit runs replaced (``<email>``,
  ``<phone>``, or ``<number>`` for a bare run of digits that may be any id); ISO dates and timestamps
  are left alone, they are not phone numbers;
* numbers, booleans and nulls elsewhere are kept;
* text longer than :data:`MAX_TEXT` is cut (the reason for a quarantine is never in the tail),
  and characters no store can hold (NUL, lone surrogates) are replaced with U+FFFD.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from sync.mapping.privacy import mask
from sync.redaction import redact

MAX_TEXT = 1000
MAX_ITEMS = 200
_MAX_ID = 128

_PERSONAL_KEY = re.compile(
    r"e[-_]?mail|phone|mobile|fax|(?:^|_)tel(?:$|_)|telephone|first_?name|last_?name|middle_?name|full_?name|"
    r"given_?name|family_?name|surname|person|contact|(?:^|_)name$|^name|street|address|postal|zip|birth|dob|"
    r"iban|bank_?account|account_?number|passport|ssn|national_?id|social_?security|ip_?address|salary",
    re.IGNORECASE)
_ID_KEY = re.compile(r"(?:^|_)(?:id|uuid|guid|no|nr|number|num|key|code|ref)$", re.IGNORECASE)
_CAMEL_ID_KEY = re.compile(r"[a-z0-9](?:Id|ID|No|Number|Key|Code|Ref)$")
_ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$")
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _storable(text: str) -> str:
    return _UNSTORABLE.sub("\ufffd", text)


def _cut(text: str, length: int | None = None) -> str:
    length = len(text) if length is None else length
    if length <= MAX_TEXT:
        return text
    return text[:MAX_TEXT] + f"…(cut, {length:,} characters)"


def _personal(value: Any) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, dict):
        return {_storable(str(k)): _personal(v) for k, v in list(value.items())[:MAX_ITEMS]}
    if isinstance(value, list):
        return [_personal(v) for v in value[:MAX_ITEMS]]
    text = _storable(str(value))
    return mask(text) if "@" in text else mask(text, keep=2)


def _text(value: str) -> str:
    if _ISO_TIME.match(value):
        return value
    return _storable(_cut(redact(value[: MAX_TEXT * 2]), len(value)))


def _id(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    if "@" in value:  # an e-mail address used as an id is still an e-mail address
        return _personal(value)
    return _storable(value if len(value) <= _MAX_ID else value[:_MAX_ID] + f"…(cut, {len(value):,} characters)")


def _is_id(key: str) -> bool:
    return bool(_ID_KEY.search(key) or _CAMEL_ID_KEY.search(key)) and not _PERSONAL_KEY.search(key)


def _walk(value: Any, key: str | None, keep: frozenset[str]) -> Any:
    scalar = not isinstance(value, dict | list)
    if key is not None and scalar and (key in keep or _is_id(key)):
        return _id(value)
    if key is not None and key not in keep and _PERSONAL_KEY.search(key):
        return _personal(value)
    if isinstance(value, dict):
        items = list(value.items())
        out = {_storable(str(k)): _walk(v, str(k), keep) for k, v in items[:MAX_ITEMS]}
        if len(items) > MAX_ITEMS:
            out["…"] = f"{len(items) - MAX_ITEMS} more fields"
        return out
    if isinstance(value, list):
        out_list = [_walk(v, key, keep) for v in value[:MAX_ITEMS]]
        if len(value) > MAX_ITEMS:
            out_list.append(f"…{len(value) - MAX_ITEMS} more items")
        return out_list
    if isinstance(value, str):
        return _text(value)
    return value


def masked_record(record: Any, keep: Iterable[str] = ()) -> dict[str, Any]:
    """A copy of ``record`` safe to store and show; ``keep`` names top-level id fields to leave as is.

    A "record" that is not an object comes back wrapped, ``{"not_an_object": ...}``: stores keep
    JSON documents that are bare numbers as numbers of their own (SQLite would round 2**63).
    """
    if not isinstance(record, dict):
        return {"not_an_object": _walk(record, None, frozenset(keep))}
    return _walk(record, None, frozenset(keep))
