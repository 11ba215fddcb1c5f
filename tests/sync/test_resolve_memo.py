"""Per-value preparation is memoised and done a page at a time: the same values and keys as one
record at a time, for every entity of the shipped rules and awkward values."""

from __future__ import annotations

from itertools import product
from pathlib import Path
from typing import Any

import pytest

from sync.resolve import load_match_config
from sync.resolve.blocking import field_value, keys_for, keys_for_many
from sync.resolve.comparators import COMPARATORS
from sync.resolve.memo import column, per_value
from sync.resolve.normalize import NORMALIZERS, text
from sync.resolve.scoring import Scorer

ROOT = Path(__file__).resolve().parents[2]


def test_a_text_value_is_prepared_once() -> None:
    calls: list[Any] = []

    def prepare(value: Any) -> Any:
        calls.append(value)
        return text(value)
    memo = per_value(prepare)
    assert [memo("Smith"), memo("Smith"), memo(["Wei", None]), memo(["Wei", None])] == \
        ["smith", "smith", "['wei', none]", "['wei', none]"]
    assert calls == ["Smith", ["Wei", None]]


def test_equal_values_of_other_types_are_not_one_cache_entry() -> None:
    # 1 == 1.0 == True for a dict, but each spells differently: numbers are never cached
    memo = per_value(text)
    assert [memo(1), memo(1.0), memo(True), memo("1")] == ["1", "1.0", "true", "1"]


def test_a_list_result_is_a_copy_each_time() -> None:
    memo = per_value(lambda v: [v, len(v)])
    first = memo("abc")
    first.append("changed by a caller")
    assert memo("abc") == ["abc", 3]
    assert column(memo, ["x", "x"]) == [["x", 1], ["x", 1]]
    page = column(memo, ["y", "y"])
    page[0].append("changed")
    assert page[1] == ["y", 1]


def test_the_cache_is_bounded() -> None:
    calls: list[str] = []
    memo = per_value(lambda v: calls.append(v) or v, size=2)
    for value in ["a", "b", "c", "a"]:  # "a" was evicted by "c"
        memo(value)
    assert calls == ["a", "b", "c", "a"]


RECORDS: list[dict[str, Any]] = [
    {"given_name": "Joshua", "surname": "Clarke", "date_of_birth": "19810502", "soc_sec_id": "1234567",
     "street_number": "12", "address_1": "Main Street", "postcode": "2600", "suburb": "Turner", "state": "act"},
    {"given_name": "Clarke", "surname": "Joshua", "date_of_birth": "19810205", "soc_sec_id": None,
     "street_number": 12, "address_1": "main st", "postcode": 2600},
    {"given_name": "", "surname": None, "date_of_birth": "", "postcode": "2600"},
    {"given_name": "Müller", "surname": "Jean-Pierre", "date_of_birth": "1981"},
    {"name": "北京华腾科技有限公司", "tax_id": "91110108MA01ABCD1X", "phone": "+86 10 6996 2480",
     "email": "Li.Wei+crm@Huateng.CN", "domain": "https://www.huateng.cn/about", "country": "CN"},
    {"name": "Beijing Huateng Technology Co., Ltd.", "phone": "6996 2480", "email": "ap@qq.com",
     "domain": "qq.com", "country": "cn", "first_name": "伟", "last_name": "张", "employer": "C-1"},
    {"first_name": "Wei", "last_name": "Zhang", "email": "wei.zhang@163.com", "phone": 861069962480},
    {"last_name": "欧阳娜娜", "first_name": None, "employer": ""},
    {},
]


@pytest.mark.parametrize(("rules_file", "entity"), [
    ("match.febrl.yml", "person"), ("match.yml", "customer"), ("match.yml", "contact")])
def test_a_page_prepares_what_one_record_at_a_time_prepares(rules_file: str, entity: str) -> None:
    rules = load_match_config(ROOT / "config" / rules_file).rules_for(entity)
    page = RECORDS * 2  # repeats: the second half comes from the caches
    assert keys_for_many(page, rules.blocking) == [keys_for(r, rules.blocking) for r in page] \
        == [_keys_uncached(r, rules.blocking) for r in page]
    scorer = Scorer(rules)
    uncached = [[COMPARATORS[c.comparator].prepare(field_value(r, c.field)) for c in rules.comparisons] for r in page]
    assert scorer.features_many(page) == [scorer.features(r) for r in page] == uncached


def _keys_uncached(record: dict[str, Any], rules: Any) -> list[str]:
    """keys_for as it was before the caches: every part normalised for every record."""
    keys: set[str] = set()
    for rule in rules:
        parts: list[list[str]] = []
        for part in rule.key:
            value = NORMALIZERS[part.normalize](field_value(record, part.field))
            values = [v for v in (value if isinstance(value, list) else [value]) if v]
            if not values:
                break
            parts.append([str(v) for v in values])
        else:
            keys.update(f"{rule.name}:" + "|".join(combo) for combo in product(*parts))
    return sorted(keys)
