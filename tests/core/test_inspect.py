"""Token inspection: decoding what a token says, and verifying who signed it, with real RSA keys.

Tokens are signed by PyJWT with keys from `cryptography`, shaped like Entra's app-only tokens
(ENTRA-FACTS 3.3); the JWKS is built with PyJWT's own `RSAAlgorithm.to_jwk`, as Entra publishes
it (ENTRA-FACTS 4: `kid`, no `alg`).
"""
import base64
import dataclasses
import datetime
import io
import json
import time
import uuid
from pathlib import Path

import jwt
import pytest
from conftest import mint_token
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import RSAAlgorithm

from azext_entracert.core import inspect
from azext_entracert.core.errors import (
    ConfigurationError,
    InputFileError,
    NetworkError,
    TokenFormatError,
)
from azext_entracert.core.profiles import Profile

UTC = datetime.timezone.utc
TID = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
ISSUER_V1 = f"https://sts.windows.net/{TID}/"
ISSUER_V2 = f"https://login.microsoftonline.com/{TID}/v2.0"
IAT = 1_780_000_000  # 2026-05-28T20:26:40Z
NOW = datetime.datetime.fromtimestamp(IAT + 600, UTC)


@pytest.fixture(scope="module")
def keys():
    """Two RSA keys: the issuer's, and an impostor's."""
    return {name: rsa.generate_private_key(public_exponent=65537, key_size=2048)
            for name in ("issuer", "impostor")}


@pytest.fixture(scope="module")
def jwks(keys):
    """The issuer's key set, with an unrelated key first as Entra publishes several."""
    other = json.loads(RSAAlgorithm.to_jwk(keys["impostor"].public_key()))
    mine = json.loads(RSAAlgorithm.to_jwk(keys["issuer"].public_key()))
    return {"keys": [dict(other, kid="old-key", use="sig"), dict(mine, kid="key-1", use="sig")]}


def claims(**overrides):
    values = {"aud": "https://graph.microsoft.com", "iss": ISSUER_V1, "iat": IAT, "nbf": IAT,
              "exp": IAT + 3600, "appid": "11111111-0000-0000-0000-000000000000",
              "appidacr": "2", "tid": TID, "ver": "1.0", "sub": "sp-object-id"}
    values.update(overrides)
    return {key: value for key, value in values.items() if value is not None}


def sign(key, *, alg="RS256", kid="key-1", **overrides):
    headers = {"kid": kid, "x5t": kid} if kid else {}
    return jwt.encode(claims(**overrides), key, algorithm=alg, headers=headers)


@pytest.fixture(scope="module")
def token(keys):
    return sign(keys["issuer"])


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# --- decode ---------------------------------------------------------------------------------

def test_decode_shows_header_claims_and_times(token):
    result = inspect.decode(token, now=NOW)
    assert result["header"] == {"alg": "RS256", "typ": "JWT", "kid": "key-1", "x5t": "key-1"}
    assert result["claims"] == claims()
    assert result["issuedAt"]["utc"] == "2026-05-28T20:26:40Z"
    assert result["notBefore"] == result["issuedAt"]
    assert result["expiresOn"]["utc"] == "2026-05-28T21:26:40Z"
    local = datetime.datetime.fromtimestamp(IAT + 3600).strftime("%Y-%m-%d %H:%M:%S")
    assert result["expiresOn"]["local"] == local
    assert (result["expired"], result["secondsLeft"]) == (False, 3000)


def test_decode_expired(token):
    later = datetime.datetime.fromtimestamp(IAT + 3601, UTC)
    result = inspect.decode(token, now=later)
    assert (result["expired"], result["secondsLeft"]) == (True, 0)


def test_decode_against_the_real_clock(keys):
    fresh = sign(keys["issuer"], iat=int(time.time()), exp=int(time.time()) + 300)
    result = inspect.decode(fresh)
    assert result["expired"] is False and 290 <= result["secondsLeft"] <= 300


def test_decode_without_times(keys):
    result = inspect.decode(sign(keys["issuer"], iat=None, nbf=None, exp=None))
    assert result["issuedAt"] is result["notBefore"] is result["expiresOn"] is None
    assert (result["expired"], result["secondsLeft"]) == (False, None)


@pytest.mark.parametrize("value", ["tomorrow", True, [1], 1e20])
def test_decode_refuses_a_time_claim_that_is_not_a_time(keys, value):
    with pytest.raises(TokenFormatError, match="'exp' claim"):
        inspect.decode(sign(keys["issuer"], exp=value))


def malformed(token):
    header, payload, signature = token.split(".")
    return {
        "one part": "eyJhbGciOiJSUzI1NiJ9",
        "two parts": f"{header}.{payload}",
        "four parts": f"{token}.{signature}",
        "header not base64": f"!!{header}.{payload}.{signature}",
        "header not JSON": f"{b64(b'hello')}.{payload}.{signature}",
        "header a JSON list": f"{b64(b'[1]')}.{payload}.{signature}",
        "payload not base64": f"{header}.!!{payload}.{signature}",
        "payload not JSON": f"{header}.{b64(b'not json')}.{signature}",
        "payload a JSON list": f"{header}.{b64(b'[1, 2]')}.{signature}",
        "signature not base64": f"{header}.{payload}.!!!",
    }


@pytest.mark.parametrize("case", list(malformed("a.b.c")))
def test_malformed_token_is_a_clear_error_that_never_echoes_it(token, case):
    bad = malformed(token)[case]
    with pytest.raises(TokenFormatError) as err:
        inspect.decode(bad)
    text = str(err.value)
    assert f"({len(bad)} characters)" in text
    for fragment in {part[:12] for part in bad.split(".") if len(part) >= 12}:
        assert fragment not in text, "the error shows part of the token"


def test_jwe_is_recognised(token):
    jwe = ".".join(["eyJhbGciOiJSU0EtT0FFUCJ9", "a", "b", "c", "d"])
    with pytest.raises(TokenFormatError, match="encrypted \\(JWE"):
        inspect.decode(jwe)


@pytest.mark.parametrize("value", ["", None])
def test_decode_empty(value):
    with pytest.raises(TokenFormatError, match="empty"):
        inspect.decode(value)


# --- read_token -------------------------------------------------------------------------------

def test_read_token_from_each_source(tmp_path, token):
    path = tmp_path / "token.txt"
    path.write_text(f"\n  {token}\n")
    assert inspect.read_token(token=f"  {token}\n") == token
    assert inspect.read_token(token=f"Bearer {token}") == token
    assert inspect.read_token(token=f"bearer   {token}") == token
    assert inspect.read_token(file=path) == token
    assert inspect.read_token(stdin=io.StringIO(token + "\n")) == token
    assert inspect.read_token(stdin=token.encode()) == token


def test_read_token_accepts_the_json_of_token_get(token):
    """`az entracert token get | az entracert token inspect -` works, as does az's own output."""
    assert inspect.read_token(stdin=json.dumps({"accessToken": token, "tokenType": "Bearer"})) \
        == token
    assert inspect.read_token(token=json.dumps({"access_token": token})) == token
    with pytest.raises(TokenFormatError, match="no accessToken"):
        inspect.read_token(token='{"tokenType": "Bearer"}')
    with pytest.raises(TokenFormatError, match="not valid JSON"):
        inspect.read_token(token='{"accessToken": ')


def test_read_token_needs_exactly_one_source(token):
    with pytest.raises(ConfigurationError, match="exactly one way.") as err:
        inspect.read_token()
    assert "--token" in err.value.hint and "--file" in err.value.hint
    with pytest.raises(ConfigurationError, match="not --token and stdin"):
        inspect.read_token(token=token, stdin=io.StringIO(token))


def test_read_token_bad_inputs(tmp_path):
    with pytest.raises(InputFileError, match="token file .* does not exist"):
        inspect.read_token(file=tmp_path / "missing")
    (tmp_path / "binary").write_bytes(b"\xff\xfe\x00\x81")
    with pytest.raises(TokenFormatError, match="not text"):
        inspect.read_token(file=tmp_path / "binary")
    with pytest.raises(TokenFormatError, match="empty"):
        inspect.read_token(token="  Bearer  ")


# --- verify -----------------------------------------------------------------------------------

def test_verify_good_signature(token, jwks):
    result = inspect.verify(token, jwks=jwks, audience="https://graph.microsoft.com",
                            issuer=ISSUER_V1, now=NOW)
    assert result == {"signatureValid": True, "kid": "key-1", "algorithm": "RS256",
                      "issuer": ISSUER_V1, "audience": "https://graph.microsoft.com",
                      "expired": False}


def test_verify_ps256_with_a_key_that_names_no_alg(keys, jwks):
    """Entra's JWKS entries carry no `alg`; PyJWK alone would assume RS256 and reject PSS."""
    result = inspect.verify(sign(keys["issuer"], alg="PS256"), jwks=jwks, now=NOW)
    assert result["signatureValid"] and result["algorithm"] == "PS256"


def test_expired_token_is_still_verified_and_reported(keys, jwks):
    old = sign(keys["issuer"], iat=IAT - 7200, nbf=IAT - 7200, exp=IAT - 3600)
    result = inspect.verify(old, jwks=jwks, now=NOW)
    assert result["signatureValid"] is True and result["expired"] is True
    tampered = old.split(".")
    tampered[2] = tampered[2][:-4] + ("AAAA" if tampered[2][-4:] != "AAAA" else "BBBB")
    with pytest.raises(TokenFormatError, match="signature does not verify"):
        inspect.verify(".".join(tampered), jwks=jwks, now=NOW)


def test_tampered_claims_fail(token, jwks):
    header, _, signature = token.split(".")
    forged = f"{header}.{b64(json.dumps(claims(roles=['Admin'])).encode())}.{signature}"
    with pytest.raises(TokenFormatError, match="signature does not verify with the issuer's key "
                                               "'key-1'") as err:
        inspect.verify(forged, jwks=jwks)
    assert "do not trust" in err.value.hint


def test_impostor_using_the_issuers_kid_fails(keys, jwks):
    with pytest.raises(TokenFormatError, match="signature does not verify"):
        inspect.verify(sign(keys["impostor"]), jwks=jwks)


def test_unknown_kid_lists_the_kids_the_jwks_has(keys, jwks):
    with pytest.raises(TokenFormatError, match=r"'rotated'.*\['old-key', 'key-1'\]") as err:
        inspect.verify(sign(keys["issuer"], kid="rotated"), jwks=jwks)
    assert "another tenant" in err.value.hint


def test_wrong_audience_or_issuer(token, jwks):
    with pytest.raises(TokenFormatError, match="audience 'https://graph.microsoft.com', not "
                                               "'api://mine'"):
        inspect.verify(token, jwks=jwks, audience="api://mine")
    with pytest.raises(TokenFormatError, match="issued by .*sts.windows.net.*, not "
                                               "'https://evil.example/'"):
        inspect.verify(token, jwks=jwks, issuer="https://evil.example/")


def test_token_without_kid(keys, jwks):
    with pytest.raises(TokenFormatError, match="no 'kid'"):
        inspect.verify(sign(keys["issuer"], kid=None), jwks=jwks)


@pytest.mark.parametrize("alg, key", [("HS256", "a-shared-secret-of-32-bytes-long!"),
                                      ("none", None)])
def test_non_rsa_algorithms_are_refused(jwks, alg, key):
    """`none` and HMAC (the classic key-confusion attack) never pass as Entra signatures."""
    forged = jwt.encode(claims(), key, algorithm=alg, headers={"kid": "key-1"})
    with pytest.raises(TokenFormatError, match=f"signed with '{alg}'"):
        inspect.verify(forged, jwks=jwks)


@pytest.mark.parametrize("document", [{}, {"keys": []}, {"keys": "nope"}, [], None])
def test_empty_or_malformed_jwks(token, document):
    with pytest.raises(TokenFormatError, match="holds no keys"):
        inspect.verify(token, jwks=document)


def test_jwks_key_that_is_not_rsa(token):
    ec_jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(
        ec.generate_private_key(ec.SECP256R1()).public_key()))
    with pytest.raises(TokenFormatError, match="not an RSA key"):
        inspect.verify(token, jwks={"keys": [dict(ec_jwk, kid="key-1")]})


def test_jwks_key_for_another_algorithm(token, jwks):
    entry = dict(jwks["keys"][1], alg="RS512")
    with pytest.raises(TokenFormatError, match="signed with RS256, but .* is for RS512"):
        inspect.verify(token, jwks={"keys": [entry]})


def test_jwks_key_that_is_broken(token):
    with pytest.raises(TokenFormatError, match="not a usable key"):
        inspect.verify(token, jwks={"keys": [{"kty": "RSA", "kid": "key-1", "n": "!!"}]})


def test_verify_malformed_token(jwks):
    with pytest.raises(TokenFormatError, match="not a JWT"):
        inspect.verify("not-a-token", jwks=jwks)


# --- check: whom to trust, and every verdict ---------------------------------------------------
# The keys come from an authority the user chose, never from the host a token names: anyone can
# run a JWKS endpoint (here `attacker`, a second emulator with its own CA, tenant and key) and mint
# tokens naming it.

@pytest.fixture
def emulator_profile(emulator):
    """The profile of an identity in the emulator's tenant (only its authority matters here)."""
    return Profile(name="emu", tenant=emulator.tenant_id, client_id=str(uuid.uuid4()),
                   authority_host=emulator.authority_host, ca_bundle=emulator.ca_bundle)


@pytest.fixture
def trusting(monkeypatch, tmp_path):
    """Make the system trust store (as requests reads it) hold these emulators' CAs, as a public
    CA would vouch for an attacker's real domain."""
    def trust(*emulators):
        bundle = tmp_path / "trusted.pem"
        bundle.write_text("".join(Path(e.ca_bundle).read_text() for e in emulators))
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    return trust


@pytest.mark.parametrize("version", [1, 2])
def test_a_token_of_the_profiles_authority_is_valid(emulator, emulator_profile, version):
    token = mint_token(emulator, version=version)
    result = inspect.check(token, profile=emulator_profile)
    tid = emulator.tenant_id
    expected = f"https://sts.windows.net/{tid}/" if version == 1 else \
        f"{emulator.authority_host}/{tid}/v2.0"
    assert result["valid"] is True and result["reasons"] == []
    assert result["trustedBy"] == "profile 'emu'"
    assert result["jwksUri"] == f"{emulator.authority_host}/{tid}/discovery/v2.0/keys"
    assert result["signature"] == {"valid": True, "kid": emulator.pki.kid, "algorithm": "RS256"}
    assert result["issuer"] == {"value": expected, "expected": expected, "valid": True}
    assert result["audience"]["valid"] is None and result["audience"]["expected"] is None
    assert (result["expired"], result["notYetValid"]) == (False, False)


def test_an_attackers_token_is_not_valid_and_its_host_is_never_asked(attacker, trusting):
    trusting(attacker)
    attacker.clear_log()
    result = inspect.check(mint_token(attacker))
    assert result["valid"] is False and result["trustedBy"] is None
    assert result["issuer"]["valid"] is False and result["signature"] is None
    assert "is not an Entra ID authority" in result["reasons"][0]
    assert "--profile NAME" in result["reasons"][0]
    assert attacker.requests_log() == []


def test_an_attackers_token_is_not_valid_against_a_profiles_authority(attacker,
                                                                     emulator_profile):
    """The profile's authority does not hold the attacker's key, and names another issuer."""
    result = inspect.check(mint_token(attacker), profile=emulator_profile)
    assert result["valid"] is False and result["signature"]["valid"] is False
    assert result["issuer"]["valid"] is False
    assert "does not hold" in result["reasons"][0]


@pytest.mark.parametrize("version", [1, 2])
def test_iss_must_be_the_issuer_the_discovery_document_names(emulator, emulator_profile,
                                                             version):
    """Entra signs every tenant's tokens with the same keys: a good signature alone does not
    make another tenant's (or another host's) token one of this authority's."""
    other = str(uuid.uuid4())
    forged = {1: f"https://sts.windows.net/{other}/",
              2: f"https://login.microsoftonline.com/{emulator.tenant_id}/v2.0"}[version]
    token = mint_token(emulator, version=version, iss=forged,
                       tid=other if version == 1 else None)
    result = inspect.check(token, profile=emulator_profile)
    assert result["signature"]["valid"] is True
    assert result["issuer"]["value"] == forged and result["issuer"]["valid"] is False
    assert result["valid"] is False
    assert result["reasons"] == [f"The token's issuer {forged!r} is not "
                                 f"{result['issuer']['expected']!r}, the issuer expected from "
                                 f"profile 'emu'."]


def test_explicit_jwks_uri_trusts_those_keys_and_leaves_the_issuer_unchecked(emulator,
                                                                            trusting):
    trusting(emulator)
    keys = f"{emulator.authority_host}/{emulator.tenant_id}/discovery/v2.0/keys"
    result = inspect.check(mint_token(emulator, version=1), jwks_uri=keys)
    assert result["valid"] is True and result["trustedBy"] == "--jwks-uri"
    assert result["jwksUri"] == keys
    assert result["issuer"]["expected"] is None and result["issuer"]["valid"] is None


def test_explicit_issuer_takes_its_keys_from_its_openid_configuration(emulator, trusting):
    trusting(emulator)
    issuer = f"{emulator.authority_host}/{emulator.tenant_id}/v2.0"
    result = inspect.check(mint_token(emulator), issuer=issuer)
    assert result["valid"] is True and result["trustedBy"] == "--issuer"
    assert result["issuer"] == {"value": issuer, "expected": issuer, "valid": True}
    wrong = inspect.check(mint_token(emulator, version=1), issuer=issuer)
    assert wrong["valid"] is False and wrong["issuer"]["valid"] is False


def test_explicit_issuer_with_a_profile_uses_the_profiles_authority(emulator,
                                                                   emulator_profile):
    """A v1 issuer names no host: the profile says where its keys are."""
    issuer = f"https://sts.windows.net/{emulator.tenant_id}/"
    result = inspect.check(mint_token(emulator, version=1), issuer=issuer,
                           profile=emulator_profile)
    assert result["valid"] is True and result["issuer"]["expected"] == issuer


def test_audience_verdict(emulator, emulator_profile):
    token = mint_token(emulator, version=1)
    right = inspect.check(token, profile=emulator_profile, audience="https://graph.microsoft.com")
    assert right["audience"] == {"value": "https://graph.microsoft.com",
                                 "expected": "https://graph.microsoft.com", "valid": True}
    wrong = inspect.check(token, profile=emulator_profile, audience="api://mine")
    assert wrong["audience"]["valid"] is False and wrong["valid"] is False
    assert wrong["signature"]["valid"] is True
    assert wrong["reasons"] == ["The token is for audience 'https://graph.microsoft.com', not "
                                "'api://mine'."]


def test_expired_or_not_yet_valid_tokens_are_not_valid(emulator, emulator_profile):
    """A good signature on a token that must not be used now still makes `valid` false."""
    token = mint_token(emulator)
    later = inspect.check(token, profile=emulator_profile,
                          now=datetime.datetime.now(UTC) + datetime.timedelta(hours=2))
    assert later["signature"]["valid"] is True and later["issuer"]["valid"] is True
    assert (later["valid"], later["expired"]) == (False, True)
    assert later["reasons"][0].startswith("The token expired at ")
    early = inspect.check(mint_token(emulator, nbf=int(time.time()) + 600),
                          profile=emulator_profile)
    assert (early["valid"], early["notYetValid"], early["expired"]) == (False, True, False)
    assert early["reasons"][0].startswith("The token is not valid before ")


@pytest.mark.parametrize("issuer, authority", [
    (ISSUER_V1, "login.microsoftonline.com"),
    (ISSUER_V2, "login.microsoftonline.com"),
    (f"https://login.microsoftonline.us/{TID}/v2.0", "login.microsoftonline.us"),
    (f"https://sts.chinacloudapi.cn/{TID}/", "login.chinacloudapi.cn"),
    (f"https://login.partner.microsoftonline.cn/{TID}/v2.0", "login.partner.microsoftonline.cn"),
])
def test_without_a_profile_only_entra_hosts_are_trusted(issuer, authority):
    trust = inspect.trust_for({"iss": issuer, "tid": TID})
    assert trust == inspect.Trust(
        f"Entra ID ({authority})",
        discovery=f"https://{authority}/{TID}/v2.0/.well-known/openid-configuration")


@pytest.mark.parametrize("token_claims", [
    {"iss": "https://127.0.0.1:8443/" + TID + "/v2.0", "tid": TID},
    {"iss": "https://login.microsoftonline.com.evil.example/" + TID + "/v2.0", "tid": TID},
    {"iss": "http://login.microsoftonline.com/" + TID + "/v2.0", "tid": TID},
    {"tid": TID},
])
def test_other_issuers_are_refused_without_a_profile(token_claims):
    with pytest.raises(TokenFormatError, match="is not an Entra ID authority"):
        inspect.trust_for(token_claims)


@pytest.mark.parametrize("token_claims", [
    {"iss": ISSUER_V2.replace(TID, "../../evil")},
    {"iss": ISSUER_V2, "tid": "../../evil"},
    {"iss": ISSUER_V2, "tid": 42},
])
def test_an_entra_issuer_needs_a_tenant_id(token_claims):
    with pytest.raises(TokenFormatError, match="names no Entra tenant"):
        inspect.trust_for(token_claims)


@pytest.mark.parametrize("option", ["issuer", "jwks_uri"])
def test_explicit_addresses_must_be_https(option):
    with pytest.raises(ConfigurationError, match="is not an https URL") as err:
        inspect.trust_for({}, **{option: "http://login.example/keys"})
    assert "--" + option.replace("_", "-") in err.value.hint


def test_keys_that_are_not_json_are_a_clear_error(emulator, emulator_profile):
    """A captive portal's HTML (or an error page) is reported, not taken for an empty key set."""
    emulator.add_fault(f"/{emulator.tenant_id}/discovery/v2.0/keys", status=200,
                       body="<html>Sign in to the Wi-Fi</html>")
    try:
        with pytest.raises(NetworkError, match="not a JSON signing key set"):
            inspect.check(mint_token(emulator), profile=emulator_profile)
    finally:
        emulator.clear_faults()


def test_a_tenant_the_authority_does_not_know_is_a_clear_error(emulator, emulator_profile):
    stranger = dataclasses.replace(emulator_profile, tenant=str(uuid.uuid4()))
    with pytest.raises(NetworkError, match="answered HTTP 400, not the OpenID configuration"):
        inspect.check(mint_token(emulator), profile=stranger)
