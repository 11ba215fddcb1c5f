"""Hostile configuration: YAML bombs, object-constructing tags and expression bombs are refused
when the file loads, with exit 2 and file:line:column, and never hang or exhaust memory.

Every YAML file crm2 reads (mappings, pipeline, checks, match rules, scoring, retention,
writeback) goes through sync.yamlconf; the CLI runs are real processes whose generous timeout is
only a hang guard. A bound tripped by a record's own data quarantines that record with the reason.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sync.enrich.config import load_rules
from sync.enrich.expressions import ExpressionError as EnrichExpressionError
from sync.enrich.expressions import compile_condition
from sync.mapping import load_mapping_text
from sync.mapping.applier import Quarantine, apply_record
from sync.mapping.expressions import ExpressionError, compile_expression
from sync.migrate.retention import load_policy
from sync.orchestrate import config as pipeline_config
from sync.quality.spec import load_checks
from sync.resolve.spec import load_match_config
from sync.writeback.mapping import load_mapping as load_writeback_mapping
from sync.yamlconf import ConfigError, parse_yaml

CRM2 = str(Path(sys.executable).parent / "crm2")
HANG_GUARD = 300

MAPPING = """\
source: shop
streams:
  clients:
    entity: customer
    key: id
    fields:
      name: {FIELD}
"""
LAUGHS = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
"""
BOMB_IN_MAP = MAPPING.replace("{FIELD}", "\n        from: kind\n        map:\n" + "".join(
    "          " + line + "\n" for line in LAUGHS.splitlines()))


def _mapping_test(tmp_path: Path, text: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "m.yml"
    path.write_text(text)
    return subprocess.run([CRM2, "mapping", "test", str(path)], capture_output=True, text=True,
                          timeout=HANG_GUARD, cwd=tmp_path)


def _expr(expr: str) -> str:
    return MAPPING.replace("{FIELD}", "{expr: " + repr(expr).replace("\\\\", "\\") + "}")


@pytest.mark.parametrize(("text", "where", "message"), [
    (BOMB_IN_MAP, "m.yml:14:18:", "aliases expand to more than 10,000 nodes"),
    (MAPPING.replace("{FIELD}", '!!python/object/apply:os.system ["true"]'), "m.yml:7:13:",
     "YAML tag '!!python/object/apply:os.system' is not allowed"),
    (MAPPING.replace("{FIELD}", "!!python/name:os.system ''"), "m.yml:7:13:", "YAML tag '!!python/name:os.system'"),
    (_expr("4000000**4000000"), "m.yml:7:", "power too large"),
    (_expr("9**9**9"), "m.yml:7:", "power too large"),
    (_expr("('x'*20000).replace('x','x'*20000)"), "m.yml:7:", "replace result too large"),
    (_expr("str(value).ljust(10**9)"), "m.yml:7:", "padding too large"),
    (_expr("'%0900000000d' % 1"), "m.yml:7:", "format width too large"),
    (_expr("'x' * 10**9"), "m.yml:7:", "repetition too large"),
    (_expr("Name.format_map({})"), "m.yml:7:", "attribute 'format_map' is not allowed"),
])
def test_a_hostile_mapping_is_exit_2_at_its_position(tmp_path, text, where, message):
    result = _mapping_test(tmp_path, text)
    assert result.returncode == 2, result.stdout + result.stderr
    first = result.stderr.strip().splitlines()[0].replace(str(tmp_path) + "/", "")
    assert first.startswith(where) and message in first, first


def test_the_position_points_into_the_expression(tmp_path):
    result = _mapping_test(tmp_path, _expr("Name + 9**9**9"))
    # line 7: the expression starts at column 21 (after "      name: {expr: '"), 9**9**9 is 7 characters in
    first = result.stderr.strip().splitlines()[0].replace(str(tmp_path) + "/", "")
    assert first == "m.yml:7:28: this part always fails: power too large (over 4,096 bits)"


@pytest.mark.parametrize("loader", [pipeline_config.load, load_rules, load_policy, load_checks, load_match_config,
                                    load_writeback_mapping])
def test_every_config_loader_refuses_an_alias_bomb_and_object_tags(tmp_path, loader):
    bomb = tmp_path / "bomb.yml"
    bomb.write_text(LAUGHS)
    with pytest.raises(ConfigError) as info:
        loader(bomb)
    assert str(info.value.problems[0]).startswith(f"{bomb}:5:8:") and "aliases expand" in str(info.value)
    tagged = tmp_path / "tagged.yml"
    tagged.write_text("x: !!python/object/new:os.system [true]\n")
    with pytest.raises(ConfigError) as info:
        loader(tagged)
    assert str(info.value.problems[0]).startswith(f"{tagged}:1:4: YAML tag '!!python/object/new:os.system'")


def test_plain_anchors_and_merge_keys_still_load():
    tree = parse_yaml("base: &b {x: 1, y: [1, 2]}\none: *b\ntwo: {<<: *b, z: 3}\nwhen: !!int 12\n")
    assert tree["two"]["x"] == 1 and tree["one"]["y"] == [1, 2] and tree["when"] == 12


def test_nesting_is_bounded():
    with pytest.raises(ConfigError, match="maximum depth"):
        parse_yaml("a: " + "[" * 200 + "]" * 200)


# -- the one expression language ------------------------------------------------------------------

def test_mapping_and_scoring_share_one_error_class():
    assert EnrichExpressionError is ExpressionError
    with pytest.raises(ExpressionError, match="repetition too large"):
        compile_condition("'x' * 1000000000 == 'y'")
    with pytest.raises(ExpressionError, match="not allowed"):
        compile_condition("x ** 2 > 1")
    assert compile_condition("days >= 365 and total > 0")({"days": 400, "total": 1})


def test_a_bound_tripped_by_the_data_quarantines_that_record_with_the_reason():
    mapping = load_mapping_text(MAPPING.replace("{FIELD}", '{expr: "str(Name).ljust(width) or Name"}'))
    stream = mapping.plans_for("clients")[0]
    fine = apply_record(stream, {"id": 1, "Name": "Acme", "width": 10})
    assert not isinstance(fine, Quarantine)
    held = apply_record(stream, {"id": 2, "Name": "Acme", "width": 10**9})
    assert isinstance(held, Quarantine)
    assert "expression stopped: padding too large" in str(held.reason)
    grow = load_mapping_text(MAPPING.replace("{FIELD}", '{expr: "Name * times"}')).plans_for("clients")[0]
    held = apply_record(grow, {"id": 3, "Name": "ab", "times": 10**8})
    assert isinstance(held, Quarantine) and "repetition too large" in str(held.reason)


@pytest.mark.parametrize("expr", [
    "contact['name'].rsplit(' ', 1)[0] if contact and contact.get('name') else None",
    "-abs(decimal(value)) if value is not None else None",
    "coalesce(a, b, 'none')", "concat('metric ', metric)", "2**10 + len(str(value))", "f'{value:>8}'",
])
def test_ordinary_expressions_still_work(expr):
    result = compile_expression(expr).evaluate({"contact": {"name": "Ann Lee"}, "metric": "m", "a": None, "b": 2},
                                               value="5")
    assert result is not None
