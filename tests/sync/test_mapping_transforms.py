"""The transform library, function by function, on the messy values real sources contain."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from sync.mapping import TRANSFORMS, TransformError
from sync.mapping.contact_points import domain, email, phone_e164
from sync.mapping.countries import country_code
from sync.mapping.privacy import hash_value, mask
from sync.mapping.text import (
    company_key,
    company_name,
    fullwidth_to_halfwidth,
    normalize_punctuation,
    normalize_whitespace,
    strip_legal_suffix,
    title,
    traditional_to_simplified,
)
from sync.mapping.transforms import null_if
from sync.mapping.values import currency, to_bool, to_date, to_datetime, to_decimal, to_int


@pytest.mark.parametrize(("raw", "key"), [
    ("北京字节跳动科技有限公司", "北京字节跳动科技"),
    ("平安银行股份有限公司", "平安银行"),
    ("上海浦东发展有限责任公司", "上海浦东发展"),
    ("華為技術有限公司", "华为技术"),
    ("万科企业集团", "万科企业"),
    ("ＡＣＭＥ（中国）有限公司", "acme 中国"),
    ("ACME Co., Ltd.", "acme"),
    ("Acme Holdings Co Ltd", "acme holdings"),
    ("Acme Limited", "acme"),
    ("Bar Inc.", "bar"),
    ("Globex Corp.", "globex"),
    ("Baz, LLC", "baz"),
    ("Siemens AG", "siemens"),
    ("Foo GmbH & Co. KG", "foo"),
    ("Nestlé S.A.", "nestlé"),
    ("Shell plc", "shell"),
    ("ACME Holdings Co., Ltd.", "acme holdings"),
])
def test_company_key_drops_chinese_and_english_legal_suffixes(raw: str, key: str) -> None:
    assert company_key(raw) == key


def test_company_name_keeps_the_suffix_but_tidies_width_spaces_and_punctuation() -> None:
    assert company_name(" ＡＣＭＥ　（中国）  Co., Ltd. ") == "ACME (中国) Co., Ltd."


def test_a_name_that_is_only_a_legal_form_is_not_emptied() -> None:
    assert strip_legal_suffix("Limited") == "Limited"
    assert strip_legal_suffix("有限公司") == "有限公司"


def test_suffix_stripping_stays_fast_on_huge_names() -> None:
    assert company_key("a " * 50_000 + "Ltd") .endswith("a")


def test_fullwidth_to_halfwidth_changes_only_fullwidth_forms() -> None:
    assert fullwidth_to_halfwidth("ＡＢＣ１２３＠ｘ．ｃｏｍ　①") == "ABC123@x.com ①"


def test_whitespace_and_punctuation_normalisation() -> None:
    assert normalize_whitespace("\u00a0ACME\t\u3000 Trading\u200b \n") == "ACME Trading"
    assert normalize_punctuation("你好，世界。“ACME”（中国）") == '你好,世界."ACME"(中国)'


def test_traditional_to_simplified_is_phrase_aware() -> None:
    assert traditional_to_simplified("臺灣積體電路製造股份有限公司") == "台湾积体电路制造股份有限公司"
    assert traditional_to_simplified("ACME Ltd") == "ACME Ltd"


def test_title_does_not_capitalise_after_apostrophes() -> None:
    assert title("o'neil's MCDONALD") == "O'neil's Mcdonald"


@pytest.mark.parametrize(("raw", "region", "e164"), [
    ("+86 138-0013-8000", None, "+8613800138000"),
    ("0086 138 0013 8000", None, "+8613800138000"),
    ("138 0013 8000", "CN", "+8613800138000"),
    ("021-6288 1234", "中国", "+862162881234"),
    ("(415) 555-2671", "US", "+14155552671"),
    ("415.555.2671", "United States", "+14155552671"),
    ("+1 415 555 2671 ", "DE", "+14155552671"),
    ("０２０ ７９４６ ０９５８", "GB", "+442079460958"),
    ("030 901820", "Germany", "+4930901820"),
    ("02 2345 6789", "TW", "+886223456789"),
])
def test_phone_numbers_in_many_formats_become_e164(raw: str, region: str | None, e164: str) -> None:
    assert phone_e164(raw, region) == e164


@pytest.mark.parametrize(("raw", "region"), [("138 0013 8000", None), ("12", "CN"), ("call me", "US"),
                                             ("+1 000", None), ("9" * 500, "CN")])
def test_unusable_phone_numbers_raise_without_echoing_the_number(raw: str, region: str | None) -> None:
    with pytest.raises(TransformError) as info:
        phone_e164(raw, region)
    assert raw not in str(info.value)


@pytest.mark.parametrize(("raw", "clean"), [
    (" John.Doe@Example.COM ", "john.doe@example.com"),
    ("mailto:a+tag@x.io", "a+tag@x.io"),
    ("ｊａｎｅ＠ｅｘａｍｐｌｅ．ｃｏｍ", "jane@example.com"),
    ("wei@例子.中国", "wei@xn--fsqu00a.xn--fiqs8s"),
])
def test_email_normalisation(raw: str, clean: str) -> None:
    assert email(raw) == clean


@pytest.mark.parametrize("raw", ["john.doe@@example.com", "no-at-sign", "a@b", "a@-x.com", ".a@x.com",
                                 "a..b@x.com", "a b@x.com", "a@x.c0m", "x" * 70 + "@x.com", ""])
def test_invalid_emails_are_rejected(raw: str) -> None:
    with pytest.raises(TransformError):
        email(raw)


@pytest.mark.parametrize(("raw", "code"), [
    ("China", "CN"), ("中國", "CN"), ("中国大陆", "CN"), ("CHN", "CN"), ("cn", "CN"), ("PRC", "CN"),
    ("U.S.A.", "US"), ("United States of America", "US"), ("美国", "US"), ("Deutschland", "DE"),
    ("Germany", "DE"), ("德國", "DE"), ("United Kingdom", "GB"), ("UK", "GB"), ("英国", "GB"),
    ("Côte d'Ivoire", "CI"), ("Cote d'Ivoire", "CI"), ("Korea, Republic of", "KR"), ("South Korea", "KR"),
    ("Vietnam", "VN"), ("Hong Kong", "HK"), ("香港", "HK"), ("台灣", "TW"), ("ｊｐｎ", "JP"), ("日本", "JP"),
])
def test_countries_become_iso_alpha2(raw: str, code: str) -> None:
    assert country_code(raw) == code


def test_unknown_country_raises() -> None:
    with pytest.raises(TransformError):
        country_code("Atlantis")


def test_datetimes_honour_offsets_and_read_naive_values_in_the_given_zone() -> None:
    assert to_datetime("2026-03-01T09:30:00Z") == datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    assert to_datetime("2026-03-01T17:30:00+08:00") == datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    assert to_datetime("2026-03-01 17:30", timezone="Asia/Shanghai") == datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    # DST: 01:30 in New York in summer is UTC-4
    assert to_datetime("2026-07-01 01:30", timezone="America/New_York") == datetime(2026, 7, 1, 5, 30, tzinfo=UTC)
    assert to_datetime(1767225600) == to_datetime(1767225600000) == datetime(2026, 1, 1, tzinfo=UTC)
    assert to_datetime("01/03/2026", dayfirst=True) == datetime(2026, 3, 1, tzinfo=UTC)
    assert to_datetime("20260301", format="%Y%m%d") == datetime(2026, 3, 1, tzinfo=UTC)


def test_dates_take_the_calendar_day_in_the_given_zone() -> None:
    assert to_date("2026-03-01T23:30:00Z", timezone="Asia/Shanghai") == date(2026, 3, 2)
    assert to_date("2026-03-01T23:30:00Z") == date(2026, 3, 1)
    assert to_date("2026年3月1日") == date(2026, 3, 1)


@pytest.mark.parametrize("raw", ["not a date", "2026-13-45", "x" * 1000])
def test_bad_dates_raise(raw: str) -> None:
    with pytest.raises(TransformError):
        to_datetime(raw)


@pytest.mark.parametrize(("raw", "amount"), [
    ("1,234.50", Decimal("1234.50")), ("¥1,234.50", Decimal("1234.50")), ("USD 99", Decimal("99")),
    ("(12.00)", Decimal("-12.00")), (0.1, Decimal("0.1")), (12345678901234.56, Decimal("12345678901234.56")),
    (Decimal("0.30"), Decimal("0.30")), (7, Decimal(7)), ("１２３．４５", Decimal("123.45")),
])
def test_decimal_amounts_are_exact(raw: object, amount: Decimal) -> None:
    result = to_decimal(raw)
    assert result == amount and str(result) == str(amount)


def test_decimal_comma_and_places() -> None:
    assert to_decimal("1.234,50", decimal_comma=True) == Decimal("1234.50")
    assert str(to_decimal("2.5", places=2)) == "2.50"
    assert to_decimal("0.1") + to_decimal("0.2") == Decimal("0.3")


@pytest.mark.parametrize("raw", ["abc", "NaN", "Infinity", True, "1" * 100])
def test_non_amounts_raise(raw: object) -> None:
    with pytest.raises(TransformError):
        to_decimal(raw)


def test_currency_codes_and_symbols() -> None:
    assert [currency(x) for x in ("usd", "¥", "RMB", "€", "eur")] == ["USD", "CNY", "CNY", "EUR", "EUR"]
    with pytest.raises(TransformError):
        currency("XYZ")


@pytest.mark.parametrize(("raw", "host"), [
    ("HTTPS://www.ACME.com/path?q=1", "acme.com"), ("acme.com.cn", "acme.com.cn"),
    ("http://shop.acme.co.uk:8080", "shop.acme.co.uk"), ("jane@Acme.com", "acme.com"),
    ("www.例子.中国", "xn--fsqu00a.xn--fiqs8s"),
])
def test_domain_from_url_or_email(raw: str, host: str) -> None:
    assert domain(raw) == host


def test_domain_rejects_values_without_one() -> None:
    for raw in ("not a url", "http://localhost", "http://[::1"):
        with pytest.raises(TransformError):
            domain(raw)


def test_hash_is_salted_and_needs_a_salt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM2_TEST_SALT", "pepper")
    a = hash_value("jane@example.com", salt_env="CRM2_TEST_SALT")
    assert len(a) == 64 and a == hash_value("jane@example.com", salt="pepper")
    assert a != hash_value("jane@example.com", salt="other")
    with pytest.raises(TransformError):
        hash_value("jane@example.com")
    monkeypatch.delenv("CRM2_TEST_SALT")
    with pytest.raises(TransformError):
        hash_value("jane@example.com", salt_env="CRM2_TEST_SALT")


def test_mask_keeps_only_the_tail_or_the_email_domain() -> None:
    assert mask("+8613800138000") == "**********8000"
    assert mask("jane@example.com") == "j***@example.com"
    assert mask("abc") == "***"


def test_booleans_ints_and_placeholders() -> None:
    assert [to_bool(x) for x in ("Yes", "0", "是", 1, False)] == [True, False, True, True, False]
    assert to_int("1,000") == 1000
    with pytest.raises(TransformError):
        to_int("1.5")
    assert null_if(" N/A ") is None and null_if("x") == "x"
    assert null_if("unknown", values=["unknown"]) is None


def test_text_transforms_refuse_structures_but_accept_numbers() -> None:
    assert TRANSFORMS["strip"](12345) == "12345"
    with pytest.raises(TransformError):
        TRANSFORMS["lower"]({"a": 1})
