"""Keep secrets and personal data out of logs and error messages.

Two layers: exact values known to be secret (everything crm2 reads from an environment variable
named by a config is registered here) and patterns for what looks like a credential or personal
data (tokens, passwords in URLs or key=value pairs, e-mail addresses, phone numbers and other
long numbers).
"""

from __future__ import annotations

import logging
import re
import threading

MASK = "***"

_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # credentials in URLs: scheme://user:password@host
    (re.compile(r"(?P<pre>[a-z][a-z0-9+.-]*://[^\s:/@]+:)[^\s@/]+(?=@)", re.I), r"\g<pre>" + MASK),
    # Authorization headers and bearer tokens
    (re.compile(r"(?P<pre>\b(?:authorization|bearer|basic)\b[\s:=\"']+)(?:bearer\s+|basic\s+)?[^\s,;\"']+",
                re.I), r"\g<pre>" + MASK),
    # key=value / "key": "value" for secret-sounding keys; a key ending in _env (password_env)
    # holds the *name* of a variable, not a secret, and masking it hid the words of messages
    (re.compile(r"(?P<pre>\b[\w-]*(?:password|passwd|secret|token|api[_-]?key|session[_-]?id|private[_-]?key)"
                r"[\w-]*\b(?<!_env)[\"']?\s*[:=]\s*[\"']?)[^\s,;&\"'}]+", re.I), r"\g<pre>" + MASK),
    # Salesforce session ids: 00D<org id>!<token>
    (re.compile(r"\b00D[A-Za-z0-9]{12,15}![A-Za-z0-9._-]+"), MASK),
    # e-mail addresses
    (re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), "<email>"),
]

# phone numbers: 7+ digits with the usual separators, optionally international
_PHONE = re.compile(r"(?<![\w.-])\+?\(?\d[\d\s().-]{6,}\d(?![\w-])")
# shaped like a phone number but not one: dates (with an hour), IPv4 addresses, decimal numbers
_NOT_PHONE = re.compile(r"\d{4}-\d\d-\d\d(\s\d\d?)?|\d{1,3}(\.\d{1,3}){3}|\d+\.\d+")


# written the way phone numbers are (a leading +, or digits grouped by separators); a bare run of
# digits may as well be a tax id, an account or a postal code, so it is masked under a neutral name
_PHONE_SHAPED = re.compile(r"\+.*|.*\d[\s().-]+\d.*")


def _phone(match: re.Match[str]) -> str:
    text = match.group()
    if _NOT_PHONE.fullmatch(text):
        return text
    return "<phone>" if _PHONE_SHAPED.fullmatch(text) else "<number>"

_secrets: set[str] = set()
_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Mask this exact value wherever it appears from now on (short values are ignored)."""
    if value and len(value) >= 4:
        with _lock:
            _secrets.add(value)


def redact(text: str) -> str:
    with _lock:
        known = sorted(_secrets, key=len, reverse=True)
    for secret in known:
        text = text.replace(secret, MASK)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return _PHONE.sub(_phone, text)


class RedactingFilter(logging.Filter):
    """Rewrites each record's final message (and exception text) through :func:`redact`."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            formatter = logging.Formatter()
            record.exc_text = redact(formatter.formatException(record.exc_info))
            record.exc_info = None
        return True
