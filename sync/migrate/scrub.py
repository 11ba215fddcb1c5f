"""Finding a person's values in stored data and replacing them with irreversible tokens.

A token is ``erased:`` and 12 hex digits of an HMAC-SHA-256 of the value under a random key that
exists only for one erasure and is never stored: the same value becomes the same token within
one erasure (so a record still matches itself), and no one can test a guess against it later —
a plain hash of an e-mail address could be reversed by hashing candidate addresses.

:class:`PersonalValues` holds what was collected about the people being erased. Where a row is
known to be theirs (*scoped*), any of their values counts, names included; everywhere else only
values that identify a person on their own count — e-mail addresses and phone numbers (by their
national digits, so ``+86 138 0013 8000``, ``13800138000`` and a match key ``phone:861380013800``
are all found) — because a first name shared with someone else is not the erased person's data.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Callable, Iterable
from typing import Any

import phonenumbers

TOKEN_PREFIX = "erased:"
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_PHONEISH = re.compile(r"[\d\s+().\-/]+")
_MIN_PHONE = 7


class Tokens:
    """Turns values into ``erased:<hex>`` tokens under a key that lives only in this object."""

    def __init__(self) -> None:
        self._key = secrets.token_bytes(32)

    def __call__(self, value: Any) -> str:
        text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
        if text.startswith(TOKEN_PREFIX):
            return text
        digest = hmac.new(self._key, text.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()
        return TOKEN_PREFIX + digest[:12]


def normalise(text: str) -> str:
    return " ".join(text.casefold().split())


def digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def national_digits(text: str) -> str | None:
    """A phone number's national significant digits, or None when ``text`` is no phone number."""
    text = text.strip()
    if not _PHONEISH.fullmatch(text) or not (_MIN_PHONE <= len(digits(text)) <= 17):
        return None
    if text.startswith("+"):
        try:
            return str(phonenumbers.parse(text, None).national_number)
        except phonenumbers.NumberParseException:
            pass
    national = digits(text).lstrip("0")
    return national if len(national) >= _MIN_PHONE else None


class PersonalValues:
    """What is known about the people being erased, and how to recognise it in stored text."""

    def __init__(self) -> None:
        self.exact: set[str] = set()
        self.names: set[str] = set()
        self.emails: set[str] = set()
        self.phones: set[str] = set()
        self._pattern: tuple[int, re.Pattern[str] | None] | None = None

    def __bool__(self) -> bool:
        return bool(self.exact or self.names or self.emails or self.phones)

    def add(self, value: Any) -> None:
        if isinstance(value, dict):
            for item in value.values():
                self.add(item)
            return
        if isinstance(value, list):
            for item in value:
                self.add(item)
            return
        if value is None or isinstance(value, bool):
            return
        text = str(value)
        norm = normalise(text)
        if not norm or norm.startswith(TOKEN_PREFIX):
            return
        if len(norm) >= 2:
            self.exact.add(norm)
        if _EMAIL.fullmatch(norm):
            self.emails.add(norm)
            return
        phone = national_digits(text)
        if phone:
            self.phones.add(phone)

    def add_name(self, *parts: Any) -> None:
        """A person's name from its parts, in both orders ('Wei Zhang', 'Zhang Wei', 'zhangwei')."""
        words = [normalise(str(p)) for p in parts if p not in (None, "") and not isinstance(p, bool)]
        words = [w for w in words if w and not w.startswith(TOKEN_PREFIX)]
        if not words:
            return
        for variant in {" ".join(words), " ".join(reversed(words)), "".join(words), "".join(reversed(words))}:
            if len(variant) >= 4 or (len(variant) >= 2 and not variant.isascii()):
                self.names.add(variant)
        for w in words:
            self.exact.add(w)

    def _identifies(self, text: str, norm: str) -> bool:
        pattern = self.pattern()
        if pattern is None or not pattern.search(text):
            return False  # one regular expression instead of a loop over every value
        if any(e in norm for e in self.emails):
            return True
        if self.phones:
            found = digits(text)
            if len(found) >= _MIN_PHONE and any(p in found and len(found) - len(p) <= 5 for p in self.phones):
                return True
        return False

    def matches(self, text: str, *, scoped: bool) -> bool:
        """Whether ``text`` holds a value of the erased people (names too when ``scoped``)."""
        norm = normalise(text)
        if norm.startswith(TOKEN_PREFIX):
            return False
        if self._identifies(text, norm):
            return True
        return scoped and (norm in self.exact or any(n in norm for n in self.names))

    def pattern(self) -> re.Pattern[str] | None:
        """A fast pre-filter for raw stored text (JSON as text): e-mail addresses and phone digits."""
        size = len(self.emails) + len(self.phones)
        if self._pattern is None or self._pattern[0] != size:
            needles = sorted(self.emails | self.phones, key=len, reverse=True)
            compiled = re.compile("|".join(re.escape(n) for n in needles), re.IGNORECASE) if needles else None
            self._pattern = (size, compiled)
        return self._pattern[1]


def scrub(value: Any, hit: Callable[[str], bool], token: Callable[[Any], str]) -> tuple[Any, bool]:
    """``value`` with every string ``hit`` accepts replaced by its token (keys are kept)."""
    if isinstance(value, str):
        return (token(value), True) if hit(value) else (value, False)
    if isinstance(value, dict):
        changed = False
        out = {}
        for key, item in value.items():
            out[key], did = scrub(item, hit, token)
            changed = changed or did
        return (out, True) if changed else (value, False)
    if isinstance(value, list):
        pairs = [scrub(item, hit, token) for item in value]
        if any(did for _, did in pairs):
            return [v for v, _ in pairs], True
        return value, False
    if isinstance(value, int | float) and not isinstance(value, bool) and hit(str(value)):
        return token(str(value)), True  # a phone number kept as a number
    return value, False


def tokenise_all(value: Any, token: Callable[[Any], str]) -> Any:
    """Every string and number in ``value`` as a token (derived comparison data of an erased record)."""
    return scrub(value, lambda _text: True, token)[0]


def replace_fields(data: Any, paths: Iterable[str], token: Callable[[Any], str]) -> bool:
    """Replace the values at dotted ``paths`` of ``data`` with tokens in place; True if any changed."""
    if not isinstance(data, dict):
        return False
    changed = False
    for path in paths:
        *parents, leaf = path.split(".")
        node: Any = data
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        if not isinstance(node, dict) or node.get(leaf) is None:
            continue
        new = token(node[leaf])
        if new != node[leaf]:
            node[leaf] = new
            changed = True
    return changed
