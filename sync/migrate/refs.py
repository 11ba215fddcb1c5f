"""A source record's reference, ``system/object/id``: how erasures and reports name a record."""

from __future__ import annotations

from dataclasses import dataclass


class BadReference(ValueError):
    """Text that is not ``system/object/id``."""


@dataclass(frozen=True, order=True)
class Ref:
    system: str
    object: str
    id: str

    def __str__(self) -> str:
        return f"{self.system}/{self.object}/{self.id}"

    @classmethod
    def parse(cls, text: str) -> Ref:
        """``salesforce/Contact/003...`` → Ref; the id may itself contain '/'."""
        parts = text.split("/", 2)
        if len(parts) != 3 or not all(parts):
            raise BadReference(f"'{text}' is not a record reference (expected system/object/id)")
        return cls(*parts)
