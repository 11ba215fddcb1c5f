"""Phone numbers as Chinese and Taiwanese ledgers write them: extensions after 转 / 分機."""

from __future__ import annotations

import pytest

from sync.mapping import TransformError
from sync.mapping.contact_points import phone_e164


@pytest.mark.parametrize(("raw", "region", "e164"), [
    ("0371-51506880转8969", "CN", "+8637151506880"),
    ("021 6288 1234 分机801", "CN", "+862162881234"),
    ("04-24577220轉4741", "TW", "+886424577220"),
    ("02 2345 6789 分機 801", "TW", "+886223456789"),
])
def test_chinese_extension_markers_are_read_as_extensions(raw: str, region: str, e164: str) -> None:
    assert phone_e164(raw, region) == e164


def test_a_marker_without_digits_is_not_a_number() -> None:
    with pytest.raises(TransformError):
        phone_e164("转", "CN")
