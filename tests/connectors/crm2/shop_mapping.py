"""A small mapping and Singer input for the target's fault tests (written per test into tmp_path)."""

from __future__ import annotations

from pathlib import Path

SHOP_MAPPING = """\
source: shop
streams:
  clients:
    entity: customer
    key: id
    deleted_when: removed
    fields:
      name: name
      email: {from: email, transform: email}
      country: {from: country, transform: country, on_error: "null"}
  payments:
    entity: payment
    key: id
    fields:
      customer: {from: client_id, ref: customer}
      paid_at: {from: at, transform: datetime}
      amount: {from: amount, transform: decimal, on_error: fail}
      currency: {from: currency, transform: currency}
"""

CLIENT_PROPERTIES = {"id": {"type": ["integer", "string"]}, "name": {"type": ["string", "null"]},
                     "email": {"type": ["string", "null"]}, "country": {"type": ["string", "null"]},
                     "removed": {"type": ["boolean", "null"]}}
PAYMENT_PROPERTIES = {"id": {"type": "string"}, "client_id": {"type": ["integer", "string"]},
                      "at": {"type": "string"}, "amount": {"type": ["string", "number"]},
                      "currency": {"type": "string"}}


def write_shop_mapping(folder: Path) -> Path:
    path = folder / "shop.yml"
    path.write_text(SHOP_MAPPING)
    return path


def client(i: int, **extra: object) -> dict[str, object]:
    return {"id": i, "name": f"Client {i} GmbH", "email": f"buyer{i}@client{i}.example", "country": "DE", **extra}


def payment(i: int, **extra: object) -> dict[str, object]:
    return {"id": f"P{i}", "client_id": i, "at": "2026-03-01T10:00:00Z", "amount": "10.50", "currency": "EUR",
            **extra}
