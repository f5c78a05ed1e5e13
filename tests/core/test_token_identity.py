"""A cached token counts only for the identity that obtained it (issue 9): profile, tenant, client
id, authority, CA trust and certificate together, each identity in its own cache file. Real MSAL
against the emulator over real TLS; what counts is what the emulator's request log shows."""
import dataclasses
import json
import os
import subprocess
import sys
import time

import pytest
from conftest import make_certificate, pem_of

from azext_entracert.core import cache, profiles, tokens
from azext_entracert.core.errors import AuthenticationError, InputFileError, NetworkError


@pytest.fixture
def stray_pem(tmp_path, rsa_keys):
    """A certificate with a key that no application registers."""
    path = tmp_path / "stray.pem"
    path.write_text(pem_of(rsa_keys[7], make_certificate(rsa_keys[7], "stray")))
    return str(path)


def token_requests(emulator, client_id=None):
    return [r for r in emulator.requests_log() if r["path"].endswith("/oauth2/v2.0/token")
            and (client_id is None or r.get("client_id") == client_id)]


def test_a_second_profile_with_an_unregistered_certificate_gets_no_cached_token(
        emulator, make_app, profile_for, entra_dir, stray_pem):
    app = make_app("identity-second")
    tokens.acquire(profile_for(app, name="good"), directory=entra_dir)
    with pytest.raises(AuthenticationError) as err:
        tokens.acquire(profile_for(app, name="bad", certificate=stray_pem), directory=entra_dir)
    assert err.value.code == 700027


def test_a_changed_certificate_goes_to_the_network(emulator, make_app, profile_for, entra_dir,
                                                   stray_pem):
    """``profile update --certificate`` with a certificate the app does not accept: no more
    "source: cache" answers; the next token get is refused with 700027."""
    app = make_app("identity-update")
    before = profile_for(app, name="app")
    tokens.acquire(before, directory=entra_dir)
    after = profiles.updated_profile(before, certificate=stray_pem)
    with pytest.raises(AuthenticationError) as err:
        tokens.acquire(after, directory=entra_dir)
    assert err.value.code == 700027


def test_a_changed_ca_bundle_or_authority_goes_to_the_network(emulator, make_app, profile_for,
                                                              entra_dir, tmp_path):
    app = make_app("identity-trust")
    profile = profile_for(app)
    tokens.acquire(profile, directory=entra_dir)
    same = tmp_path / "same-ca.pem"
    same.write_bytes(open(emulator.ca_bundle, "rb").read())
    more = tmp_path / "more-ca.pem"
    more.write_bytes(same.read_bytes() + b"\n")
    emulator.clear_log()
    copied = dataclasses.replace(profile, ca_bundle=str(same))
    assert tokens.acquire(copied, directory=entra_dir).source == "cache"  # content, not path
    changed = dataclasses.replace(profile, ca_bundle=str(more))
    assert tokens.acquire(changed, directory=entra_dir).source == "network"
    other = dataclasses.replace(profile, authority_host=emulator.authority_host.replace(
        "127.0.0.1", "localhost"))
    assert tokens.acquire(other, directory=entra_dir).source == "network"
    assert len(token_requests(emulator, app.app_id)) == 2


def test_no_ca_bundle_for_a_private_authority_fails_on_trust(emulator, make_app, profile_for,
                                                             entra_dir, monkeypatch):
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    app = make_app("identity-no-ca")
    tokens.acquire(profile_for(app, name="with-ca"), directory=entra_dir)
    with pytest.raises(NetworkError, match="not trusted"):
        tokens.acquire(profile_for(app, name="no-ca", ca_bundle=None), directory=entra_dir)


def test_an_environment_identity_with_a_missing_certificate_fails_before_any_cache(
        emulator, make_app, entra_dir, tmp_path):
    app = make_app("identity-env")
    env = {"AZURE_TENANT_ID": emulator.tenant_id, "AZURE_CLIENT_ID": app.app_id,
           "AZURE_CLIENT_CERTIFICATE_PATH": app.pem_path,
           "AZURE_AUTHORITY_HOST": emulator.authority_host,
           "ENTRACERT_CA_BUNDLE": emulator.ca_bundle}
    first = tokens.acquire(profiles.from_environment(env), directory=entra_dir)
    again = tokens.acquire(profiles.from_environment(env), directory=entra_dir)
    loaded_thumbprint = first.thumbprint
    assert (first.source, again.source) == ("network", "cache")
    assert again.thumbprint == loaded_thumbprint and loaded_thumbprint  # who obtained it
    emulator.clear_log()
    missing = dict(env, AZURE_CLIENT_CERTIFICATE_PATH=str(tmp_path / "gone.pem"))
    with pytest.raises(InputFileError, match="does not exist") as err:
        tokens.acquire(profiles.from_environment(missing), directory=entra_dir)
    assert "AZURE_CLIENT_CERTIFICATE_PATH" in err.value.hint
    assert emulator.requests_log() == []


def test_clearing_one_profile_leaves_the_others_tokens(emulator, make_app, profile_for,
                                                       entra_dir):
    app = make_app("identity-clear")
    a, b = profile_for(app, name="a"), profile_for(app, name="b")
    old_a = dataclasses.replace(a, ca_bundle=None)  # a former identity of "a" (another trust)
    tokens.acquire(a, directory=entra_dir)
    tokens.acquire(b, directory=entra_dir)
    store = cache.TokenCache(entra_dir, tokens.identity(a))
    former = store.path.with_name("0" * 32 + ".json")
    former.write_bytes(store.path.read_bytes())  # as if written under a's former certificate
    assert old_a is not None
    assert cache.clear(entra_dir, profile="a") == 2
    assert not former.exists()
    emulator.clear_log()
    assert tokens.acquire(b, directory=entra_dir).source == "cache"
    assert tokens.acquire(a, directory=entra_dir).source == "network"
    assert cache.clear(entra_dir) == 2
    assert sorted(p.name for p in (entra_dir / cache.TOKEN_DIR).iterdir()
                  if not p.name.endswith(".lock")) == []
    assert not (entra_dir / cache.HTTP_CACHE).exists()


def test_the_old_shared_cache_is_removed_not_read(emulator, make_app, profile_for, entra_dir):
    app = make_app("identity-legacy")
    profile = profile_for(app)
    tokens.acquire(profile, directory=entra_dir)
    shared = entra_dir / cache.LEGACY_TOKEN_CACHE
    shared.write_bytes(cache.TokenCache(entra_dir, tokens.identity(profile)).path.read_bytes())
    other = profile_for(app, name="other")
    assert tokens.acquire(other, directory=entra_dir).source == "network"
    assert not shared.exists()


def test_leftovers_of_killed_writes_are_removed_under_the_lock(make_app, profile_for, entra_dir,
                                                               caplog):
    profile = profile_for(make_app("identity-leftovers"))
    tokens.acquire(profile, directory=entra_dir)
    path = cache.TokenCache(entra_dir, tokens.identity(profile)).path
    temp = path.with_name(f".{path.name}.k1ll3d_.tmp")  # what atomic_write leaves when killed
    temp.write_text('{"AccessToken": {"secret": {}}}')
    old = path.with_name(f"{path.name}.corrupt-1")
    old.write_text("{")
    os.utime(old, (time.time() - 2 * 86400,) * 2)
    recent = path.with_name(f"{path.name}.corrupt-{int(time.time())}")
    recent.write_text("{")
    stray = path.with_name(".deadbeef.json.x_y.tmp")  # another identity's killed first write
    stray.write_text("{}")
    assert tokens.acquire(profile, directory=entra_dir).source == "cache"
    assert not temp.exists() and not old.exists()
    assert recent.exists()  # kept a day for a look
    cache.clear(entra_dir)
    assert not recent.exists() and not stray.exists()


def test_sixteen_cold_processes_make_one_discovery_and_one_token_request(
        emulator, make_app, profile_for, entra_dir):
    app = make_app("identity-sixteen")
    profile = profile_for(app)
    emulator.clear_log()
    code = ("import sys, json; from azext_entracert.core import tokens, profiles;"
            "p = profiles.Profile.from_dict(json.loads(sys.argv[1]));"
            "print(tokens.acquire(p, directory=sys.argv[2]).source)")
    env = {k: v for k, v in os.environ.items() if k != "REQUESTS_CA_BUNDLE"}
    started = [subprocess.Popen([sys.executable, "-c", code, json.dumps(profile.to_dict()),
                                 str(entra_dir)], stdout=subprocess.PIPE, text=True, env=env)
               for _ in range(16)]
    sources = sorted(p.communicate(timeout=180)[0].strip() for p in started)
    assert sources == ["cache"] * 15 + ["network"]
    paths = [r["path"] for r in emulator.requests_log()]
    assert sum(p.endswith("/.well-known/openid-configuration") for p in paths) == 1, paths
    assert len(token_requests(emulator, app.app_id)) == 1
