"""Token acquisition through real MSAL against the emulator over real TLS: cache first, network
only when needed, errors explained, every network acquisition audited."""
import json
import os
import subprocess
import sys

import jwt
import pytest

from azext_entracert.core import audit, cache, profiles, tokens
from azext_entracert.core.errors import AuthenticationError, CertificateError, NetworkError


def cache_file(directory, profile):
    """The token cache file of ``profile``'s identity."""
    return cache.TokenCache(directory, tokens.identity(profile)).path


def token_requests(emulator, client_id):
    return [r for r in emulator.requests_log()
            if r["path"].endswith("/oauth2/v2.0/token") and r.get("client_id") == client_id]


def test_first_token_from_network_then_from_cache(emulator, make_app, profile_for, entra_dir):
    app = make_app("tokens-basic")
    profile = profile_for(app)
    first = tokens.acquire(profile, directory=entra_dir)
    second = tokens.acquire(profile, directory=entra_dir)
    assert (first.source, second.source) == ("network", "cache")
    assert first.token == second.token
    claims = jwt.decode(first.token, options={"verify_signature": False})
    assert claims["appid"] == app.app_id and claims["appidacr"] == "2"
    assert len(token_requests(emulator, app.app_id)) == 1
    assert oct(cache_file(entra_dir, profile).stat().st_mode & 0o777) == "0o600"


def test_default_assertion_is_ps256_with_sha256_thumbprint(emulator, make_app, profile_for,
                                                           entra_dir):
    from azext_entracert.core import assertion, certs
    app = make_app("tokens-ps256")
    loaded = certs.load(app.pem_path)
    token_endpoint = f"{emulator.authority_host}/{emulator.tenant_id}/oauth2/v2.0/token"
    modern = assertion.client_assertion(loaded, audience=token_endpoint, client_id=app.app_id)
    legacy = assertion.client_assertion(loaded, audience=token_endpoint, client_id=app.app_id,
                                        legacy_sha1=True, send_chain=True)
    assert jwt.get_unverified_header(modern)["alg"] == "PS256"
    assert "x5t#S256" in jwt.get_unverified_header(modern)
    header = jwt.get_unverified_header(legacy)
    assert header["alg"] == "RS256" and "x5t" in header and len(header["x5c"]) == 1
    for legacy_sha1 in (False, True):
        profile = profile_for(app, legacy_sha1=legacy_sha1, send_chain=legacy_sha1)
        assert tokens.acquire(profile, directory=entra_dir, force=True).source == "network"


def test_cache_hit_in_a_new_process_makes_no_request(emulator, make_app, profile_for, entra_dir):
    app = make_app("tokens-newproc")
    profile = profile_for(app)
    tokens.acquire(profile, directory=entra_dir)
    emulator.clear_log()
    code = ("import sys, json; from azext_entracert.core import tokens, profiles;"
            "p = profiles.Profile.from_dict(json.loads(sys.argv[1]));"
            "t = tokens.acquire(p, directory=sys.argv[2]); print(t.source)")
    env = {k: v for k, v in os.environ.items() if k != "REQUESTS_CA_BUNDLE"}
    out = subprocess.run([sys.executable, "-c", code, json.dumps(profile.to_dict()),
                          str(entra_dir)],
                         capture_output=True, text=True, env=env, check=True).stdout
    assert out.strip() == "cache"
    assert emulator.requests_log() == []


def test_force_refresh_goes_to_the_network(emulator, make_app, profile_for, entra_dir):
    profile = profile_for(make_app("tokens-force"))
    first = tokens.acquire(profile, directory=entra_dir)
    again = tokens.acquire(profile, directory=entra_dir, force=True)
    assert again.source == "network" and again.token != first.token
    assert tokens.acquire(profile, directory=entra_dir).token == again.token


def test_unregistered_certificate_is_explained(emulator, make_app, profile_for, entra_dir,
                                               rsa_keys):
    app = make_app("tokens-unregistered")
    from conftest import make_certificate, pem_of
    other = rsa_keys[7]
    stray = entra_dir.parent / "stray.pem"
    stray.write_text(pem_of(other, make_certificate(other, "stray")))
    profile = profile_for(app, certificate=str(stray))
    with pytest.raises(AuthenticationError) as err:
        tokens.acquire(profile, directory=entra_dir)
    assert err.value.code == 700027
    assert profile.thumbprint in str(err.value)
    assert "az entracert app cert add" in err.value.hint
    record = audit.read(entra_dir)[-1]
    assert record["outcome"] == "failure" and record["code"] == 700027


def test_unknown_tenant_is_explained(emulator, make_app, profile_for, entra_dir):
    profile = profile_for(make_app("tokens-tenant"), tenant="00000000-0000-0000-0000-000000000001")
    with pytest.raises(AuthenticationError) as err:
        tokens.acquire(profile, directory=entra_dir)
    assert err.value.code == 90002


def test_untrusted_tls_names_the_host_and_the_fix(emulator, make_app, profile_for, entra_dir):
    profile = profile_for(make_app("tokens-tls"), ca_bundle=None)
    with pytest.raises(NetworkError) as err:
        tokens.acquire(profile, directory=entra_dir)
    assert "127.0.0.1" in str(err.value) and "--ca-bundle" in err.value.hint


def test_unreachable_authority(make_app, profile_for, entra_dir):
    profile = profile_for(make_app("tokens-down"), authority_host="https://127.0.0.1:9")
    with pytest.raises(NetworkError, match="cannot be reached"):
        tokens.acquire(profile, directory=entra_dir)


def test_changed_certificate_file_is_reported(make_app, profile_for, entra_dir, rsa_keys):
    from conftest import make_certificate, pem_of
    app = make_app("tokens-changed")
    profile = profile_for(app)
    with open(app.pem_path, "w") as handle:
        handle.write(pem_of(rsa_keys[8], make_certificate(rsa_keys[8], "replaced")))
    with pytest.raises(CertificateError, match="changed since the profile"):
        tokens.acquire(profile, directory=entra_dir)


def test_corrupt_cache_is_set_aside(make_app, profile_for, entra_dir, caplog):
    profile = profile_for(make_app("tokens-corrupt"))
    path = cache_file(entra_dir, profile)
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    assert tokens.acquire(profile, directory=entra_dir).source == "network"
    assert any(p.name.startswith(path.name + ".corrupt-") for p in path.parent.iterdir())
    assert "could not be read" in caplog.text


def test_audit_records_network_acquisitions_without_secrets(make_app, profile_for, entra_dir):
    profile = profile_for(make_app("tokens-audit"))
    token = tokens.acquire(profile, directory=entra_dir)
    tokens.acquire(profile, directory=entra_dir)  # a cache hit is not audited
    records = audit.read(entra_dir)
    assert len(records) == 1
    assert records[0]["outcome"] == "success"
    assert records[0]["thumbprintSha256"] == profile.thumbprint_sha256
    assert token.token not in (entra_dir / "audit.jsonl").read_text()


def test_token_repr_hides_the_token(make_app, profile_for, entra_dir):
    token = tokens.acquire(profile_for(make_app("tokens-repr")), directory=entra_dir)
    assert token.token not in repr(token)


ANY_IDENTITY = {"profile": "p", "tenant": "t", "clientId": "c", "authority": "a",
                "trust": "system", "certificate": "T"}


@pytest.mark.parametrize("content", [b"[]", b'"text"', b'{"AccessToken": []}',
                                     b'{"AccessToken": {"k": "v"}}', b"\xff\xfe{", b"{not json"])
def test_cache_of_the_wrong_shape_is_set_aside_not_a_crash(tmp_path, caplog, content):
    """Valid JSON that is not an MSAL cache used to crash inside MSAL on the next lookup."""
    store = cache.TokenCache(tmp_path, ANY_IDENTITY)
    store.path.parent.mkdir()
    store.path.write_bytes(content)
    with store.open() as opened:
        assert cache.remove_access_tokens(opened) == 0
    aside = [p for p in store.path.parent.iterdir() if ".corrupt-" in p.name]
    assert len(aside) == 1 and aside[0].read_bytes() == content
    assert "could not be read" in caplog.text


def test_empty_cache_file_is_an_empty_cache(tmp_path, caplog):
    store = cache.TokenCache(tmp_path, ANY_IDENTITY)
    store.path.parent.mkdir()
    store.path.write_bytes(b"")
    with store.open() as opened:
        assert cache.remove_access_tokens(opened) == 0
    assert "could not be read" not in caplog.text
    assert [p.name for p in store.path.parent.iterdir() if ".corrupt-" in p.name] == []


def test_debug_logging_shows_no_token_assertion_or_key(make_app, profile_for, entra_dir, caplog):
    """`az --debug` turns every logger (msal, urllib3, ours) to DEBUG: none may print a secret."""
    import logging
    import re

    caplog.set_level(logging.DEBUG)
    profile = profile_for(make_app("tokens-debug"))
    fresh = tokens.acquire(profile, directory=entra_dir)
    cached = tokens.acquire(profile, directory=entra_dir)
    assert cached.source == "cache" and "event=" in caplog.text  # MSAL did log at DEBUG
    assert fresh.token not in caplog.text
    assert not re.search(r"eyJ[\w-]+\.eyJ[\w-]+", caplog.text)  # no JWT: token or assertion
    assert "PRIVATE KEY" not in caplog.text


def test_environment_identity_warns_of_a_certificate_about_to_expire(make_app, entra_dir, caplog,
                                                                     emulator):
    """The environment's identity records no expiry up front; it must still warn (issue 4)."""
    app = make_app("tokens-env-expiring", days=5)
    env = {"AZURE_TENANT_ID": emulator.tenant_id, "AZURE_CLIENT_ID": app.app_id,
           "AZURE_CLIENT_CERTIFICATE_PATH": app.pem_path,
           "AZURE_AUTHORITY_HOST": emulator.authority_host,
           "ENTRACERT_CA_BUNDLE": emulator.ca_bundle}
    profile = profiles.from_environment(env)
    assert tokens.acquire(profile, directory=entra_dir).source == "network"
    assert "expires in 5 day(s)" in caplog.text or "expires in 4 day(s)" in caplog.text


def test_expired_certificate_is_refused_even_with_a_cached_token(emulator, make_app, profile_for,
                                                                 entra_dir):
    import dataclasses
    profile = profile_for(make_app("tokens-expired-cache"))
    tokens.acquire(profile, directory=entra_dir)
    expired = dataclasses.replace(profile, not_after="2020-01-01T00:00:00Z")
    emulator.clear_log()
    with pytest.raises(CertificateError, match="no request was sent") as err:
        tokens.acquire(expired, directory=entra_dir)
    assert "app cert add" in err.value.hint and "cert create" in err.value.hint
    assert emulator.requests_log() == []
    assert audit.read(entra_dir)[-1]["outcome"] == "failure"


def test_moved_certificate_names_the_profile_and_the_fix(make_app, profile_for, entra_dir):
    import os

    from azext_entracert.core.errors import InputFileError
    app = make_app("tokens-moved")
    profile = profile_for(app, name="moved")
    os.rename(app.pem_path, app.pem_path + ".elsewhere")
    with pytest.raises(InputFileError, match="profile 'moved'") as err:
        tokens.acquire(profile, directory=entra_dir)
    assert "profile update --name moved --certificate" in err.value.hint


def test_claims_challenge_goes_to_entra_even_with_a_cached_token(emulator, make_app, profile_for,
                                                                 entra_dir):
    profile = profile_for(make_app("tokens-claims"))
    tokens.acquire(profile, directory=entra_dir)
    emulator.clear_log()
    challenge = '{"access_token": {"nbf": {"essential": true, "value": "1700000000"}}}'
    again = tokens.acquire(profile, directory=entra_dir, claims=challenge)
    assert again.source == "network"
    assert len(token_requests(emulator, profile.client_id)) == 1
