"""What `crm2 init` writes for a new source: a mapping guessed from the tap's Singer catalog, a
pipeline config that runs it, and copies of the shipped rule files to edit.

The guesses are deliberately plain: a stream becomes an entity by its name (``accounts`` →
customer, ``tickets`` → service_case), a field is mapped when the catalog has a property of the
same name or a usual synonym (``website`` → domain), and ids that point at a customer become
``ref: customer``. A stream whose required fields cannot all be guessed is written commented out
with what is missing, so the file always loads and a person finishes it. Hand-written because
no library maps arbitrary Singer catalogs onto crm2's model.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sync.model import ENTITIES
from sync.yamlconf import SYNONYMS

# stream-name words → entity (first match wins; plural and singular both appear in the wild)
STREAM_ENTITIES: tuple[tuple[str, str], ...] = (
    ("contact", "contact"), ("people", "contact"), ("person", "contact"), ("lead", "contact"),
    ("invoice", "invoice"), ("bill", "invoice"), ("payment", "payment"), ("charge", "payment"),
    ("order", "order"), ("sale", "order"), ("deal", "deal"), ("opportunit", "deal"),
    ("ticket", "service_case"), ("case", "service_case"), ("issue", "service_case"),
    ("survey", "survey"), ("nps", "survey"), ("feedback", "survey"),
    ("task", "interaction"), ("event", "interaction"), ("call", "interaction"), ("email", "interaction"),
    ("activit", "interaction"), ("customer", "customer"), ("account", "customer"), ("compan", "customer"),
    ("organi", "customer"), ("client", "customer"),
)
# more names a source may use for crm2's fields, beyond yamlconf's "did you mean" synonyms
EXTRA_SYNONYMS: dict[str, tuple[str, ...]] = {
    "customer": ("customer_id", "account_id", "company_id", "customer_no", "client_id", "organization_id"),
    "contact": ("contact_id", "person_id"),
    "invoice": ("invoice_id", "invoice_no"),
    "updated_at": ("modified_at", "last_modified", "updated", "systemmodstamp", "lastmodifieddate", "modified"),
    "created_at": ("created", "createddate", "inserted_at"),
    "occurred_at": ("activity_date", "date", "timestamp", "created_at"),
    "ordered_at": ("order_date", "created_at", "date"),
    "issued_on": ("invoice_date", "issue_date", "date"),
    "due_on": ("due_date",),
    "paid_at": ("payment_date", "date", "created_at"),
    "paid_on": ("paid_date",),
    "opened_at": ("created_at", "opened", "created"),
    "closed_at": ("closed", "resolved_at"),
    "responded_at": ("submitted_at", "created_at"),
    "total": ("amount", "grand_total", "total_amount"),
    "amount": ("total", "grand_total"),
    "first_name": ("firstname", "given_name"),
    "last_name": ("lastname", "family_name", "surname"),
    "close_date": ("closedate", "expected_close"),
    "channel": ("type", "kind"),
    "score": ("rating", "nps", "value"),
}
# how to read a value into the field's type
TRANSFORMS: dict[str, list[str]] = {
    "email": ["null_if", "email"], "domain": ["null_if", "company_domain"], "phone": ["null_if", "phone_e164"],
    "country": ["null_if", "country"], "name": ["company_name"],
}
REFS = {"customer": "customer", "contact": "contact", "invoice": "invoice", "parent": "customer"}
_ID_NAMES = ("id", "key", "no", "number", "code")


@dataclass
class StreamGuess:
    stream: str
    entity: str | None
    key: list[str]
    fields: dict[str, Any] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.entity is not None and bool(self.key) and not self.missing


def _words(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name)).lower().strip("_")


def entity_for(stream: str) -> str | None:
    words = _words(stream)
    return next((entity for word, entity in STREAM_ENTITIES if word in words), None)


def _candidates(target: str, entity: str) -> list[str]:
    names = [target, *SYNONYMS.get(target, ()), *EXTRA_SYNONYMS.get(target, ())]
    if target == "customer" and entity == "customer":
        return []
    return names


def guess_stream(stream: str, schema: Mapping[str, Any], key: list[str]) -> StreamGuess:
    """The mapping crm2 can guess for one catalog stream."""
    entity = entity_for(stream)
    props = {str(p): spec for p, spec in (schema.get("properties") or {}).items()}
    by_word = {_words(p): p for p in props}
    if not key:
        key = [p for p in props if _words(p) in _ID_NAMES][:1]
    guess = StreamGuess(stream, entity, key)
    if entity is None:
        return guess
    model = ENTITIES[entity]
    for target, info in model.model_fields.items():
        if target in ("source", "address"):
            continue
        source = next((by_word[c] for c in _candidates(target, entity)
                       if c in by_word and (by_word[c] not in key or target in REFS)), None)
        if source is None:
            if info.is_required():
                guess.missing.append(target)
            continue
        spec: dict[str, Any] = {"from": source}
        if target in REFS and target != entity:
            spec["ref"] = REFS[target]
        elif target in TRANSFORMS and (target != "name" or entity == "customer"):
            spec["transform"] = TRANSFORMS[target]
            if target in ("email", "domain", "phone", "country"):
                spec["on_error"] = "null"
        guess.fields[target] = spec
    return guess


def _flow(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    text = str(value)
    return text if re.fullmatch(r"[A-Za-z_][\w.-]*", text) and text not in ("null", "true", "false") else (
        '"' + text.replace('"', '\\"') + '"')


def mapping_yaml(source: str, tap: str, guesses: list[StreamGuess]) -> str:
    """A mapping file: complete guesses as streams, the rest commented out with what is missing."""
    out = [f"# {source}: streams of {tap} → crm2 entities. Written by `crm2 init` from the tap's catalog;",
           "# check each guess, then `crm2 validate --config crm2.yml` and `crm2 mapping test`.",
           f"source: {source}", "streams:"]
    done = [g for g in guesses if g.complete]
    todo = [g for g in guesses if not g.complete]
    if not done:
        out[-1] = "streams: {}  # nothing could be guessed completely: see the streams below"
    for g in done:
        out += [f"  {_flow(g.stream)}:", f"    entity: {g.entity}",
                f"    key: {_flow(g.key[0] if len(g.key) == 1 else g.key)}", "    fields:"]
        out += [f"      {target}: {_flow(spec)}" for target, spec in g.fields.items()]
    for g in todo:
        why = ("no crm2 entity matches its name" if g.entity is None else
               "no key" if not g.key else "cannot guess required " + ", ".join(g.missing))
        out += ["", f"  # {g.stream}: {why}; finish by hand and uncomment",
                f"  # {_flow(g.stream)}:", f"  #   entity: {g.entity or 'customer'}",
                f"  #   key: {_flow(g.key[0]) if g.key else 'id'}", "  #   fields:"]
        out += [f"  #     {target}: {_flow(spec)}" for target, spec in g.fields.items()]
        out += [f"  #     {target}: SOURCE_FIELD" for target in g.missing]
    return "\n".join(out) + "\n"


_SECRET = re.compile(r"password|passwd|secret|token|api[_-]?key|private[_-]?key", re.I)


def safe_tap_config(config: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The tap config without secret values (crm2 configs name env variables instead), and the
    keys taken out."""
    kept: dict[str, Any] = {}
    dropped: list[str] = []
    for key, value in config.items():
        if _SECRET.search(key) and not key.endswith("_env"):
            dropped.append(key)
        elif isinstance(value, Mapping):
            inner, gone = safe_tap_config(value)
            kept[key] = inner
            dropped += [f"{key}.{k}" for k in gone]
        else:
            kept[key] = value
    return kept, dropped


def pipeline_yaml(source: str, tap: str, tap_config: Mapping[str, Any], mapping: str, dropped: list[str]) -> str:
    config = "\n".join(f"      {k}: {_flow(v)}" for k, v in tap_config.items()) or "      {}"
    if not tap_config:
        config = ""
    secrets = ("\n".join(f"      # {k}: put it in an environment variable and name it as {k.split('.')[-1]}_env"
                         for k in dropped) + "\n") if dropped else ""
    return f"""# crm2 pipeline, written by `crm2 init`. Paths are relative to this file.
# Run: crm2 validate --config crm2.yml && crm2 sync --config crm2.yml
version: 1

store:
  url: .crm2/crm2.sqlite

extractors:
  - name: {source}
    tap: {tap}
    mapping: {mapping}
    config:{'' if config else ' {}'}
{config}{chr(10) if config else ''}{secrets}
checks: {{enabled: true, rules: config/checks.yml}}
resolve: {{enabled: true, rules: config/match.yml}}
enrich: {{enabled: true, rules: config/scoring.yml}}

writeback:
  enabled: false         # switch on with a Salesforce connection (see config/pipeline.example.yml)
  dry_run: true

environments:            # crm2 sync --env prod applies these over the settings above
  prod:
    store: {{url: .crm2/prod.sqlite}}
"""
