"""Secrets and personal data never reach the logs."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

import pytest

from sync import logs
from sync.redaction import redact, register_secret

LEAKS = [
    ("login with password=Tr0ub4dor&3 failed", "Tr0ub4dor&3"),
    ('{"client_secret": "s3cr3t-value-xyz"}', "s3cr3t-value-xyz"),
    ("GET https://x/services Authorization: Bearer 00Dxx0000001gPL!AR8AQJXg5oj8jXSgxJfA", "AR8AQJXg5oj8jXSgxJfA"),
    ("connect postgresql://crm2:pa55word@db:5432/crm2", "pa55word"),
    ("session 00D5g000008abcD!AQ4AQLongTokenValue.abc", "AQ4AQLongTokenValue"),
    ("contact Zhang.Wei@example.com.cn bounced", "Zhang.Wei@example.com.cn"),
    ("phone +86 10 1234 5678 unreachable", "1234 5678"),
    ("phone (415) 555-0100 unreachable", "555-0100"),
    ("api_key=abcd1234efgh", "abcd1234efgh"),
]


@pytest.mark.parametrize(("text", "secret"), LEAKS)
def test_redact_masks_credentials_and_personal_data(text, secret):
    assert secret not in redact(text)


def test_redact_keeps_ordinary_text_and_ids():
    text = "synced 1,234 Accounts in 12.5s, run 3f2c; Account 0015g00000XyZ12AAB quarantined: name required"
    assert redact(text) == text


@pytest.mark.parametrize("text", ["stand-in at https://127.0.0.1:37039", "as of 2026-11-01", "took 1234567.89 s",
                                  "at 2026-11-01 09:30:00"])
def test_redact_keeps_addresses_dates_and_decimals(text):
    assert redact(text) == text


def test_names_of_secret_variables_are_not_masked():
    # `password_env: X` names a variable; masking its value turned messages into "*** variable X"
    text = "store.password_env: environment variable CRM2_STORE_PASSWORD is not set"
    assert redact(text) == text
    assert "hunter22" not in redact("password: hunter22, client_secret_env: CRM2_SF_CLIENT_SECRET")


def test_registered_secret_is_masked_anywhere():
    register_secret("plain-looking-value-42")
    assert "plain-looking-value-42" not in redact("the value plain-looking-value-42 appeared")


def test_log_records_and_tracebacks_are_redacted(capsys):
    logs.configure(json_logs=True)
    logger = logging.getLogger("crm2.test")
    logger.info("retrying for %s with token=%s", "ops@example.com", "tok-999-secret")
    try:
        raise RuntimeError("auth failed for password=hunter22")
    except RuntimeError:
        logger.exception("boom")
    err = capsys.readouterr().err
    entries = [json.loads(line) for line in err.strip().splitlines()]
    assert [e["level"] for e in entries] == ["info", "error"]
    for leaked in ("ops@example.com", "tok-999-secret", "hunter22"):
        assert leaked not in err
    assert "RuntimeError" in entries[1]["exc"]


def test_cli_error_messages_are_redacted(tmp_path):
    # a store URL with an inline password is rejected; the password must not be echoed
    result = subprocess.run([sys.executable, "-m", "sync", "runs", "--store",
                             "postgresql+psycopg://u:SuperSecretPw1@127.0.0.1:9/x"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "SuperSecretPw1" not in result.stderr + result.stdout


@pytest.mark.parametrize(("text", "label"), [
    ("call +862162881234 today", "<phone>"),
    ("call (415) 555-0100 today", "<phone>"),
    ("call 415 555 0100 today", "<phone>"),
    ("tax id 91310000123456789X", None),  # letters make it a word: not a number at all
    ("tax id 913100001234567 filed", "<number>"),
    ("account 12345678 closed", "<number>"),
])
def test_long_numbers_are_masked_under_an_honest_name(text, label):
    out = redact(text)
    if label is None:
        assert out == text
    else:
        assert label in out and not any(ch.isdigit() for ch in out)
