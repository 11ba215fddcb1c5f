"""Mapping mistakes are reported as file:line:column: message (hint), pointing at the fault."""

from __future__ import annotations

from pathlib import Path

import pytest

from sync.mapping import load_mapping
from sync.yamlconf import ConfigError

GOOD = """\
source: salesforce
streams:
  Account:
    entity: customer
    key: Id
    fields:
      name: Name
      website_domain_is_here: {from: Website, transform: [strip, lower]}
"""


def _errors(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "m.yml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_mapping(path)
    return [str(p).replace(str(path), "m.yml") for p in info.value.problems]


def _with(field_line: str, entity: str = "customer") -> str:
    return GOOD.replace("customer", entity).replace(
        "      website_domain_is_here: {from: Website, transform: [strip, lower]}", field_line)


def test_a_valid_mapping_loads(tmp_path: Path) -> None:
    path = tmp_path / "ok.yml"
    path.write_text(_with("      domain: {from: Website, transform: [strip, lower, domain]}"), encoding="utf-8")
    assert load_mapping(path).streams["Account"].entity.entity == "customer"


def test_yaml_syntax_error(tmp_path: Path) -> None:
    errors = _errors(tmp_path, _with("      domain: {from: Website, transform: [strip, lower}"))
    assert len(errors) == 1 and errors[0].startswith("m.yml:8:")
    assert "invalid YAML" in errors[0]


def test_unknown_key_with_hint(tmp_path: Path) -> None:
    assert _errors(tmp_path, _with("      domain: {from: Website, transfrom: [strip]}")) == [
        "m.yml:8:31: unknown key 'transfrom' (did you mean 'transform'?)"]


def test_unknown_transform_with_hint(tmp_path: Path) -> None:
    assert _errors(tmp_path, _with("      domain: {from: Website, transform: [strip, lowr]}")) == [
        "m.yml:8:50: unknown transform 'lowr' (did you mean 'lower'?)"]


def test_unknown_transform_in_block_style(tmp_path: Path) -> None:
    text = _with("      domain:\n        from: Website\n        transform:\n          - strip\n          - domian\n")
    assert _errors(tmp_path, text) == ["m.yml:12:13: unknown transform 'domian' (did you mean 'domain'?)"]


def test_unknown_entity(tmp_path: Path) -> None:
    assert _errors(tmp_path, GOOD.replace("entity: customer", "entity: custmer")) == [
        "m.yml:4:13: unknown entity 'custmer' (did you mean 'customer'?)"]


def test_unknown_target_field(tmp_path: Path) -> None:
    assert _errors(tmp_path, _with("      nmae: Name")) == [
        "m.yml:8:7: unknown field 'nmae' for entity 'customer' (did you mean 'name'?)"]
    assert _errors(tmp_path, _with("      address.citty: BillingCity")) == [
        "m.yml:8:7: unknown field 'citty' for 'Address' (did you mean 'city'?)"]


def test_ref_to_unknown_entity(tmp_path: Path) -> None:
    assert _errors(tmp_path, _with("      parent: {from: ParentId, ref: custmer}")) == [
        "m.yml:8:37: 'ref' to unknown entity 'custmer' (did you mean 'customer'?)"]


def test_bad_expression_syntax_points_into_the_expression(tmp_path: Path) -> None:
    errors = _errors(tmp_path, _with('      industry: {expr: "Industry + (1"}'))
    # the column is the '(' that is never closed: 1-based col of the quote is 24, then offset 11
    assert errors == ["m.yml:8:36: invalid expression syntax: '(' was never closed (expressions are one "
                      "Python-like line, e.g. \"Amount * 1.1 if Amount else None\")"]


@pytest.mark.parametrize(("expr", "message"), [
    ("Name.__class__", "attribute '__class__' is not allowed"),
    ("__import__('os').system('true')", "name '__import__' is not allowed"),
    ("open('/etc/passwd').read()", "unknown function 'open'"),
    ("(lambda: 1)()", "Lambda is not allowed in expressions"),
    ("[c for c in Name]", "ListComp is not allowed in expressions"),
    ("Name.format_map({})", "attribute 'format_map' is not allowed"),
])
def test_unsafe_expressions_are_rejected_at_load(tmp_path: Path, expr: str, message: str) -> None:
    errors = _errors(tmp_path, _with(f'      industry: {{expr: "{expr}"}}'))
    assert len(errors) == 1 and errors[0].startswith("m.yml:8:") and message in errors[0]


def test_unknown_transform_parameter(tmp_path: Path) -> None:
    assert _errors(tmp_path, _with("      phone: {from: Phone, transform: [{mask: {kep: 4}}]}")) == [
        "m.yml:8:48: unknown parameter 'kep' for transform 'mask' (did you mean 'keep'?)"]


def test_unknown_time_zone(tmp_path: Path) -> None:
    line = "      created_at: {from: CreatedDate, transform: datetime, timezone: Asia/Shangai}"
    errors = _errors(tmp_path, _with(line))
    assert errors == ["m.yml:8:70: unknown time zone 'Asia/Shangai' (use an IANA name such as 'Asia/Shanghai'"
                      " or 'UTC')"]


def test_every_problem_in_a_file_is_reported_at_once(tmp_path: Path) -> None:
    text = _with("      nmae: Name\n      domain: {from: Website, transform: [lowr]}\n")
    errors = _errors(tmp_path, text)
    assert [e.split(": ")[0] for e in errors] == ["m.yml:8:7", "m.yml:9:43"]


def test_missing_field_source_and_const_with_from(tmp_path: Path) -> None:
    errors = _errors(tmp_path, _with("      domain: {transform: [strip]}"))
    assert len(errors) == 1 and errors[0].startswith("m.yml:8:15:") and "give 'from', 'const' or 'expr'" in errors[0]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_mapping(tmp_path / "absent.yml")


def test_a_field_named_as_other_tools_name_it_gets_crm2s_name(tmp_path: Path) -> None:
    assert _errors(tmp_path, _with("      website: Website")) == [
        "m.yml:8:7: unknown field 'website' for entity 'customer' (did you mean 'domain'?)"]


def test_a_tab_in_the_indentation_is_named_with_a_hint(tmp_path: Path) -> None:
    assert _errors(tmp_path, _with("\tdomain: Website")) == [
        "m.yml:8:1: invalid YAML: a tab character in the indentation "
        "(YAML indents with spaces only: replace the tab with spaces)"]


def test_wrong_indentation_is_named_with_a_hint(tmp_path: Path) -> None:
    errors = _errors(tmp_path, _with("     domain: Website"))
    assert errors == ["m.yml:8:6: invalid YAML: this line's indentation (5 spaces) does not line up with the block "
                      "it belongs to (keys of one block start in the same column; a list item starts with '- ')"]
    errors = _errors(tmp_path, _with("        domain: Website"))
    assert len(errors) == 1 and errors[0].startswith("m.yml:8:15: invalid YAML: a ':' where a value was expected")
    assert "usually indentation" in errors[0]
