"""Pure parts of the tap: describe -> JSON Schema, value typing, SOQL literals, limit header, errors."""

from __future__ import annotations

from decimal import Decimal

import pytest
import requests

from connectors.salesforce.client import (
    ApiBudget,
    BudgetReached,
    InvalidSessionError,
    MalformedQueryError,
    RequestLimitExceeded,
    SalesforceError,
    TransientError,
    error_from_response,
    loads_exact,
    parse_limit_info,
)
from connectors.salesforce.tap_config import SalesforceTapConfig, config_jsonschema
from connectors.salesforce.tap_schema import (
    coerce,
    coerce_record,
    kinds_from_schema,
    normalize_datetime,
    schema_from_describe,
    soql_datetime,
)

DESCRIBE = {
    "name": "Opportunity",
    "fields": [
        {"name": "Id", "type": "id"},
        {"name": "Name", "type": "string"},
        {"name": "Amount", "type": "currency"},
        {"name": "Probability", "type": "percent"},
        {"name": "IsWon", "type": "boolean"},
        {"name": "CloseDate", "type": "date"},
        {"name": "SystemModstamp", "type": "datetime"},
        {"name": "StageName", "type": "picklist"},
        {"name": "AccountId", "type": "reference"},
        {"name": "NumberOfEmployees", "type": "int"},
        {"name": "BillingAddress", "type": "address"},
    ],
}


def test_describe_maps_salesforce_types_to_json_schema():
    schema, kinds = schema_from_describe(DESCRIBE)
    props = schema["properties"]
    assert props["Id"] == {"type": "string"}
    assert props["Amount"] == {"type": ["string", "null"], "format": "singer.decimal"}
    assert props["Probability"] == {"type": ["number", "null"]}
    assert props["IsWon"] == {"type": ["boolean", "null"]}
    assert props["CloseDate"] == {"type": ["string", "null"], "format": "date"}
    assert props["SystemModstamp"] == {"type": ["string", "null"], "format": "date-time"}
    assert props["NumberOfEmployees"] == {"type": ["integer", "null"]}
    assert props["StageName"] == props["AccountId"] == {"type": ["string", "null"]}
    assert "BillingAddress" not in props  # compound: Bulk 2.0 cannot return it
    # a catalog round trip gives the same kinds, so runs with a catalog skip describe
    assert kinds_from_schema(schema) == kinds


def test_currency_survives_exactly_from_json_and_csv():
    # 0.1 + 0.2 style values and more digits than a double holds
    body = b'{"Amount": 12345678901234567.89, "Small": 0.10}'
    parsed = loads_exact(body)
    assert coerce(parsed["Amount"], "decimal") == "12345678901234567.89"
    assert coerce(parsed["Small"], "decimal") == "0.10"
    assert coerce("1234.50", "decimal") == "1234.50"  # Bulk CSV cell


def test_values_from_rest_and_bulk_type_identically():
    kinds = {"Id": "string", "IsWon": "boolean", "Probability": "number", "N": "integer",
             "SystemModstamp": "datetime", "Name": "string"}
    rest = {"attributes": {"type": "X"}, "Id": "006A", "IsWon": True, "Probability": Decimal("50.0"),
            "N": 3, "SystemModstamp": "2026-03-01T09:30:00.000+0000", "Name": None}
    bulk = {"Id": "006A", "IsWon": "true", "Probability": "50.0", "N": "3",
            "SystemModstamp": "2026-03-01T09:30:00.000Z", "Name": ""}
    assert coerce_record(rest, kinds) == coerce_record(bulk, kinds) == {
        "Id": "006A", "IsWon": True, "Probability": 50.0, "N": 3,
        "SystemModstamp": "2026-03-01T09:30:00.000Z", "Name": None}


@pytest.mark.parametrize(("raw", "expected"), [
    ("2026-03-01T09:30:00Z", "2026-03-01T09:30:00.000Z"),
    ("2026-03-01T09:30:00.123+0000", "2026-03-01T09:30:00.123Z"),
    ("2026-03-01T10:30:00+01:00", "2026-03-01T09:30:00.000Z"),
    ("2026-03-01T09:30:00", "2026-03-01T09:30:00.000Z"),
])
def test_datetimes_normalise_to_fixed_width_utc(raw, expected):
    assert normalize_datetime(raw) == expected


def test_soql_datetime_literal_keeps_millis_only_when_present():
    assert soql_datetime("2026-03-01T09:30:00.000Z") == "2026-03-01T09:30:00Z"
    assert soql_datetime("2026-03-01T09:30:00.250Z") == "2026-03-01T09:30:00.250Z"


def test_limit_info_header_and_budget_cap():
    assert parse_limit_info("api-usage=25/15000") == (25, 15000)
    assert parse_limit_info("per-app-api-usage=1/10(appName=x), api-usage=7/100") == (7, 100)
    assert parse_limit_info(None) is None
    budget = ApiBudget(max_pct=80)
    budget.record_call("api-usage=79/100")
    budget.check()
    budget.record_call("api-usage=80/100")
    with pytest.raises(BudgetReached):
        budget.check()
    assert budget.calls == 2


def _response(status: int, body: bytes) -> requests.Response:
    r = requests.Response()
    r.status_code = status
    r._content = body
    return r


@pytest.mark.parametrize(("status", "code", "cls"), [
    (401, "INVALID_SESSION_ID", InvalidSessionError),
    (403, "REQUEST_LIMIT_EXCEEDED", RequestLimitExceeded),
    (400, "UNABLE_TO_LOCK_ROW", TransientError),
    (503, "SERVER_UNAVAILABLE", TransientError),
    (400, "MALFORMED_QUERY", MalformedQueryError),
    (400, "REQUIRED_FIELD_MISSING", SalesforceError),
])
def test_error_shapes_map_to_typed_errors(status, code, cls):
    body = f'[{{"message": "m", "errorCode": "{code}", "fields": []}}]'.encode()
    err = error_from_response(_response(status, body))
    assert type(err) is cls
    assert err.error_code == code and err.status == status


def test_error_without_json_body_is_still_typed():
    assert isinstance(error_from_response(_response(503, b"<html>down</html>")), TransientError)


def test_config_requires_https_host_and_publishes_flat_schema():
    with pytest.raises(ValueError, match="login_url or instance_url"):
        SalesforceTapConfig.model_validate({"client_id": "x"})
    with pytest.raises(ValueError, match="https"):
        SalesforceTapConfig.model_validate({"client_id": "x", "login_url": "http://127.0.0.1:1"})
    cfg = SalesforceTapConfig.model_validate({"client_id": "x", "instance_url": "https://h/"})
    assert cfg.oauth_host == "https://h" and cfg.api_budget_pct == 80 and cfg.include_deleted
    schema = config_jsonschema()
    assert schema["properties"]["ca_bundle"]["type"] == ["string", "null"]
    assert "client_id" in schema["required"]


def test_jwt_bearer_assertion_is_signed_with_the_configured_key(monkeypatch):
    import jwt
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from connectors.salesforce.client import Credentials

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    monkeypatch.setenv("CRM2_UNIT_SF_KEY", pem)
    creds = Credentials.from_env(flow="jwt_bearer", login_url="https://login.example/", client_id="app",
                                 username="int@example.com", private_key_env="CRM2_UNIT_SF_KEY")
    body = creds.token_request_body()
    assert creds.token_url == "https://login.example/services/oauth2/token"
    assert body["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    claims = jwt.decode(body["assertion"], key.public_key(), algorithms=["RS256"], audience="https://login.example")
    assert claims["iss"] == "app" and claims["sub"] == "int@example.com"
    assert pem not in repr(creds)


def test_password_flow_appends_security_token_and_missing_env_is_reported(monkeypatch):
    from connectors.salesforce.client import AuthenticationError, Credentials

    monkeypatch.setenv("CRM2_UNIT_SF_PW", "pw")
    monkeypatch.setenv("CRM2_UNIT_SF_TOK", "tok")
    creds = Credentials.from_env(flow="password", login_url="https://h", client_id="app", username="u",
                                 password_env="CRM2_UNIT_SF_PW", security_token_env="CRM2_UNIT_SF_TOK")
    assert creds.token_request_body()["password"] == "pwtok"
    monkeypatch.delenv("CRM2_UNIT_SF_PW")
    with pytest.raises(AuthenticationError, match=r"CRM2_UNIT_SF_PW \(password\) is not set"):
        Credentials.from_env(flow="password", login_url="https://h", client_id="app", username="u",
                             password_env="CRM2_UNIT_SF_PW")
