"""Entra's AADSTS errors become plain explanations with the fix, and keep what support needs.

The envelopes below are Entra's real shapes and wordings (ENTRA-FACTS 2.2 and 2.3).
"""
import pytest

from azext_entracert.core import aadsts
from azext_entracert.core.errors import AuthenticationError, EntraCertError

CLIENT = "11111111-2222-3333-4444-555555555555"
TENANT = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
THUMB = "0123456789ABCDEF0123456789ABCDEF01234567"
TRACE = "40dccc8c-276d-4927-b6e0-583bf24f9000"
CORRELATION = "55f49a48-adab-4470-b42d-f100f63bc15d"
TRAILER = f" Trace ID: {TRACE} Correlation ID: {CORRELATION} Timestamp: 2026-06-09 14:01:21Z"

KEY_NOT_FOUND = {
    "error": "invalid_client",
    "error_description": (
        "AADSTS700027: The certificate with identifier used to sign the client assertion is not "
        "registered on application. [Reason - The key was not found., Thumbprint of key used by "
        f"client: '{THUMB}', Please visit the Azure Portal, Graph Explorer or directly use MS "
        f"Graph to see configured keys for app Id '{CLIENT}'.]" + TRAILER),
    "error_codes": [700027],
    "timestamp": "2026-06-09 14:01:21Z",
    "trace_id": TRACE,
    "correlation_id": CORRELATION,
    "error_uri": "https://login.microsoftonline.com/error?code=700027",
}

CATALOGUED = [700027, 700024, 700023, 50048, 700016, 90002, 900023, 7000215, 7000222, 7000218,
              1002012, 70011, 500011, 900144, 50027, 700025]


@pytest.mark.parametrize("code", CATALOGUED)
def test_every_catalogued_code_has_its_own_explanation(code):
    what, fix = aadsts.explain(code, client_id=CLIENT, tenant=TENANT, thumbprint=THUMB,
                               resource="https://graph.microsoft.com/.default")
    generic_what, _ = aadsts.explain(424242)
    assert what and fix and what != generic_what.replace("424242", str(code))
    assert "{" not in what + fix, "a placeholder was left unfilled"


@pytest.mark.parametrize("code", CATALOGUED)
def test_explanations_read_well_without_context(code):
    what, fix = aadsts.explain(code)
    assert "None" not in what + fix and "''" not in what + fix and "{" not in what + fix


def test_700027_shows_thumbprint_and_both_register_commands():
    what, fix = aadsts.explain(700027, client_id=CLIENT, thumbprint=THUMB, profile="ci",
                               certificate="/certs/app.pem")
    assert THUMB in what and CLIENT in what
    assert "az entracert app cert add --profile ci --file /certs/app.pem" in fix
    assert f"az ad app credential reset --id {CLIENT} --cert @/certs/app.pem --append" in fix


def test_700027_with_a_pfx_names_the_public_cer_beside_it():
    """Both register commands read PEM/DER certificates, never a PFX; 'cert create' writes the
    .cer beside the .pfx, and adding a certificate needs an identity allowed to manage the app."""
    _, fix = aadsts.explain(700027, client_id=CLIENT, profile="ci", certificate="/certs/app.pfx")
    assert "--profile ci --file /certs/app.cer --admin-profile ADMIN" in fix
    assert "--cert @/certs/app.cer" in fix and "app.pfx" not in fix


def test_700027_without_context_uses_placeholders():
    _, fix = aadsts.explain(700027)
    assert "--profile NAME --file cert.pem" in fix and "--id CLIENT_ID --cert @cert.pem" in fix


def test_clock_skew_points_at_the_clock():
    what, fix = aadsts.explain(700024)
    assert "clock" in what and "NTP" in fix


def test_app_not_in_tenant_names_both():
    what, fix = aadsts.explain(700016, client_id=CLIENT, tenant=TENANT)
    assert CLIENT in what and TENANT in what and "tenant" in fix and "client id" in fix


def test_tenant_not_found_names_tenant_and_cloud():
    what, fix = aadsts.explain(90002, tenant="contoso.example")
    assert "'contoso.example'" in what and "cloud" in fix


def test_resource_not_found_names_resource():
    what, fix = aadsts.explain(500011, resource="api://nope", tenant=TENANT)
    assert "Resource 'api://nope'" in what and "scope" in fix


def test_unknown_code_falls_back_to_entras_error_page():
    what, fix = aadsts.explain(1234567)
    assert "AADSTS1234567" in what
    assert "https://login.microsoftonline.com/error?code=1234567" in fix


def test_parse_code():
    assert aadsts.parse_code("AADSTS90002: Tenant 'x' not found.") == 90002
    assert aadsts.parse_code("prefix AADSTS7000215: Invalid client secret") == 7000215
    assert aadsts.parse_code("no code here") is None
    assert aadsts.parse_code(None) is None


def test_from_response_builds_a_full_error():
    err = aadsts.from_response(KEY_NOT_FOUND, client_id=CLIENT, thumbprint=THUMB, profile="ci")
    assert isinstance(err, AuthenticationError) and isinstance(err, EntraCertError)
    assert (err.code, err.error) == (700027, "invalid_client")
    assert (err.correlation_id, err.trace_id) == (CORRELATION, TRACE)
    assert err.description == KEY_NOT_FOUND["error_description"]
    assert THUMB in err.message
    # Entra's first sentence, not the whole reason block or the trace trailer:
    assert ("AADSTS700027: The certificate with identifier used to sign the client assertion is "
            "not registered on application.") in err.message
    assert "[Reason" not in err.message and "Timestamp" not in err.message
    assert "az entracert app cert add --profile ci" in err.hint
    assert f"Correlation ID: {CORRELATION}" in err.hint and TRACE in err.hint
    assert f"Correlation ID: {CORRELATION}" in str(err)


def test_old_crlf_trailer_is_cut_too():
    """Before late 2023 Entra separated the trailer with CRLF."""
    result = {"error": "invalid_request",
              "error_description": "AADSTS90002: Tenant 'contoso.example' not found. Check to "
                                   f"make sure...\r\nTrace ID: {TRACE}\r\nCorrelation ID: x",
              "error_codes": [90002]}
    err = aadsts.from_response(result, tenant="contoso.example")
    assert "AADSTS90002: Tenant 'contoso.example' not found." in err.message
    assert "Trace ID" not in err.message and "Check to make sure" not in err.message


def test_code_taken_from_description_when_error_codes_absent():
    result = {"error": "invalid_client",
              "error_description": "AADSTS700024: Client assertion is not within its valid time "
                                   "range. Current time: 2025-08-29T05:47:32.1501147Z."}
    err = aadsts.from_response(result)
    assert err.code == 700024 and "clock" in err.message
    assert err.correlation_id is None and "Correlation ID" not in str(err)


def test_description_without_code_gets_it_prefixed():
    result = {"error": "invalid_client", "error_description": "Something odd. More.",
              "error_codes": [50027]}
    err = aadsts.from_response(result)
    assert "Entra ID said: AADSTS50027: Something odd." in err.message


def test_bare_msal_error_without_description_or_code():
    err = aadsts.from_response({"error": "invalid_grant"})
    assert err.code is None and err.description is None
    assert "Entra ID refused the token request." in err.message and "invalid_grant" in err.message
    assert "None" not in str(err)


def test_older_two_code_envelope_uses_the_first_code():
    """Before 2021, a wrong audience came as AADSTS70002 wrapping AADSTS50012."""
    result = {"error": "invalid_client", "error_codes": [70002, 50012],
              "error_description": "AADSTS70002: Error validating credentials. AADSTS50012: "
                                   "Client assertion audience claim does not match Realm issuer."}
    err = aadsts.from_response(result)
    assert err.code == 70002 and "AADSTS70002" in err.message
