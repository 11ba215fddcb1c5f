"""A data team declares its own entity type in a mapping file: checked with positions, then mapped
like a built-in entity (typed fields, required fields, identifying fields quarantine)."""

from __future__ import annotations

from pathlib import Path

from test_mapping_errors import _errors

from sync.mapping import load_mapping
from sync.mapping.applier import Mapped, Quarantine

ROOT = Path(__file__).resolve().parents[2]

GOOD = """\
source: register
entities:
  person:
    fields:
      given_name: text
      surname: {type: text, required: true}
      born: date
      visits: integer
    identified_by: [given_name, surname]
streams:
  people:
    entity: person
    key: id
    fields:
      given_name: first
      surname: last
      born: {from: dob, transform: date, on_error: "null"}
      visits: n
"""


def test_a_declared_entity_maps_typed_values(tmp_path: Path) -> None:
    path = tmp_path / "m.yml"
    path.write_text(GOOD, encoding="utf-8")
    mapping = load_mapping(path)
    assert mapping.streams["people"].entity.entity == "person"
    result = mapping.apply("people", {"id": 7, "first": "Ann", "last": "Lee", "dob": "1970-02-03", "n": "4"})
    assert isinstance(result, Mapped)
    assert result.entity.model_dump(mode="json", exclude={"source"}) == {
        "given_name": "Ann", "surname": "Lee", "born": "1970-02-03", "visits": 4}
    assert str(result.source) == "register/people/7"
    missing = mapping.apply("people", {"id": 8, "first": "Bo"})
    assert isinstance(missing, Quarantine)
    assert (missing.field, missing.reason) == ("surname", "required field is missing")


def test_a_record_without_any_identifying_field_is_quarantined(tmp_path: Path) -> None:
    path = tmp_path / "m.yml"
    path.write_text(GOOD.replace("required: true", "required: false"), encoding="utf-8")
    held = load_mapping(path).apply("people", {"id": 9, "dob": "1970-02-03"})
    assert isinstance(held, Quarantine) and held.field is None
    assert "no identifying field (given_name, surname) has a value" in held.reason


def test_unknown_type_is_positioned_with_a_hint(tmp_path: Path) -> None:
    assert _errors(tmp_path, GOOD.replace("born: date", "born: dat")) == [
        "m.yml:7:7: unknown field type 'dat' (did you mean 'date'?)"]


def test_identified_by_names_a_declared_field(tmp_path: Path) -> None:
    assert _errors(tmp_path, GOOD.replace("[given_name, surname]", "[given_name, surnam]")) == [
        "m.yml:9:33: 'surnam' is not a field of 'person' (did you mean 'surname'?)"]


def test_a_built_in_name_cannot_be_redeclared(tmp_path: Path) -> None:
    text = GOOD.replace("  person:", "  customer:").replace("entity: person", "entity: customer")
    assert _errors(tmp_path, text)[0] == "m.yml:3:3: 'customer' is one of crm2's own entities; declare another name"


def test_a_stream_naming_a_misspelt_entity_is_offered_the_declared_one(tmp_path: Path) -> None:
    assert _errors(tmp_path, GOOD.replace("entity: person", "entity: persn")) == [
        "m.yml:12:13: unknown entity 'persn' (did you mean 'person'?)"]


def test_unknown_target_field_of_a_declared_entity(tmp_path: Path) -> None:
    assert _errors(tmp_path, GOOD.replace("      visits: n\n", "      visit: n\n")) == [
        "m.yml:18:7: unknown field 'visit' for entity 'person' (did you mean 'visits'?)"]


def test_the_example_mapping_runs_its_examples() -> None:
    from sync.mapping.examples import run_examples

    mapping = load_mapping(ROOT / "examples" / "people" / "people.yml")
    outcomes = run_examples(mapping)
    assert outcomes and all(o.ok for o in outcomes), [o for o in outcomes if not o.ok]
