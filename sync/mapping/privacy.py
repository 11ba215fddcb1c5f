"""Personal data protection inside a mapping: salted hashes for matching, masks for display."""

from __future__ import annotations

import hashlib
import os
from typing import Any

from sync.mapping.errors import TransformError
from sync.mapping.text import as_text


def hash_value(value: Any, salt: str | None = None, salt_env: str | None = None) -> str:
    """Hex sha256 of salt + value. The salt should come from the environment (``salt_env``) so
    that it is not in the YAML; an unsalted hash of an email is trivially reversible by lookup."""
    if salt_env:
        salt = os.environ.get(salt_env)
        if not salt:
            raise TransformError(f"hash salt variable {salt_env} is not set")
    if not salt:
        raise TransformError("hash needs a salt ('salt_env' naming an environment variable)")
    return hashlib.sha256((salt + as_text(value)).encode("utf-8")).hexdigest()


def mask(value: Any, keep: int = 4, char: str = "*") -> str:
    """Keep the last ``keep`` characters (an email keeps its first letter and its domain)."""
    text = as_text(value)
    keep = max(0, int(keep))
    if "@" in text:
        local, _, dom = text.rpartition("@")
        return (local[:1] + char * max(len(local) - 1, 1)) + "@" + dom
    if len(text) <= keep:
        return char * len(text)
    return char * (len(text) - keep) + text[len(text) - keep:] if keep else char * len(text)
