"""Network behaviour (issue 9): bounded, named, never cached when broken. Faults come from the
emulator (``add_fault``); what was sent is read from its request log. Real requests, real TLS,
real MSAL."""
import pickle
import time

import pytest

from azext_entracert.core import cache, profiles, tokens
from azext_entracert.core.errors import NetworkError
from azext_entracert.core.http import HttpClient

pytestmark = pytest.mark.xdist_group("faults")


@pytest.fixture(autouse=True)
def no_faults_left(emulator):
    emulator.clear_faults()
    emulator.clear_log()
    yield
    emulator.clear_faults()


@pytest.fixture
def profile(emulator, make_app):
    app = make_app("network")
    return profiles.new_profile("net", tenant=emulator.tenant_id, client_id=app.app_id,
                                certificate=app.pem_path, authority_host=emulator.authority_host,
                                ca_bundle=emulator.ca_bundle)


def sent(emulator, suffix):
    return [r for r in emulator.requests_log() if r["path"].endswith(suffix)]


def discovery_url(emulator):
    return f"{emulator.authority_host}/{emulator.tenant_id}/v2.0/.well-known/openid-configuration"


def test_a_post_is_sent_once_a_get_is_retried(emulator):
    http = HttpClient(ca_bundle=emulator.ca_bundle)
    emulator.add_fault("/oauth2/v2.0/token", status=503, retry_after=0, count=3)
    token_url = f"{emulator.authority_host}/{emulator.tenant_id}/oauth2/v2.0/token"
    assert http.post(token_url, data={"grant_type": "client_credentials"}).status_code == 503
    assert len(sent(emulator, "/oauth2/v2.0/token")) == 1
    emulator.add_fault("/addKey", status=502, count=3)
    assert http.post(f"{emulator.authority_host}/v1.0/applications/x/addKey",
                     json={}).status_code == 502
    assert len(sent(emulator, "/addKey")) == 1
    emulator.add_fault("openid-configuration", status=503, retry_after=0, count=2)
    assert http.get(discovery_url(emulator)).status_code == 200
    assert len(sent(emulator, "openid-configuration")) == 3


def test_a_long_retry_after_fails_at_once_saying_how_long(emulator):
    http = HttpClient(ca_bundle=emulator.ca_bundle)
    emulator.add_fault("openid-configuration", status=503, retry_after=3600)
    started = time.monotonic()
    with pytest.raises(NetworkError, match=r"asked to wait 3600 s \(1 h\)"):
        http.get(discovery_url(emulator))
    assert time.monotonic() - started < 5
    assert len(sent(emulator, "openid-configuration")) == 1


def test_a_short_retry_after_is_waited_for_with_a_notice(emulator, profile, tmp_path, caplog):
    emulator.add_fault("/oauth2/v2.0/token", status=503, retry_after=1)
    token = tokens.acquire(profile, directory=tmp_path)
    assert token.source == "network"
    assert len(sent(emulator, "/oauth2/v2.0/token")) == 2  # our second attempt, a new assertion
    notices = [r.getMessage() for r in caplog.records if "asking again" in r.getMessage()]
    assert notices == [f"{emulator.authority_host.split('//')[1]} answered HTTP 503; asking "
                       "again in 1 s, as it asked."]


def test_a_read_timeout_is_not_an_unreachable_host(emulator):
    http = HttpClient(ca_bundle=emulator.ca_bundle, timeout=(5, 0.5))
    emulator.add_fault("openid-configuration", delay=1.5)
    with pytest.raises(NetworkError, match="did not answer within 0.5 s") as err:
        http.get(discovery_url(emulator))
    assert "cannot be reached" not in str(err.value)
    deadline = time.monotonic() + 10  # the emulator logs the stalled request when it is done
    while not sent(emulator, "openid-configuration") and time.monotonic() < deadline:
        time.sleep(0.1)


def test_a_507_asking_for_an_hour_does_not_lock_out_the_next_command(emulator, profile,
                                                                     tmp_path):
    emulator.add_fault("/oauth2/v2.0/token", status=507, retry_after=3600)
    started = time.monotonic()
    with pytest.raises(NetworkError, match="asked to wait 3600 s"):
        tokens.acquire(profile, directory=tmp_path)
    assert time.monotonic() - started < 5
    assert tokens.acquire(profile, directory=tmp_path).source == "network"  # server recovered
    assert len(sent(emulator, "/oauth2/v2.0/token")) == 2


@pytest.mark.parametrize("fault", [dict(body="<html>Sign in to the hotel Wi-Fi</html>"),
                                   dict(status=503, retry_after=3600)])
def test_a_bad_discovery_answer_is_never_kept(emulator, profile, tmp_path, fault):
    emulator.add_fault("openid-configuration", **fault)
    with pytest.raises(NetworkError):
        tokens.acquire(profile, directory=tmp_path)
    assert tokens.acquire(profile, directory=tmp_path).source == "network"
    assert len(sent(emulator, "openid-configuration")) == 2


def test_throttling_in_an_old_http_cache_is_ignored(emulator, profile, tmp_path):
    """Entries MSAL throttles with (a POST's 503 for 50 s) never make it into the file; one left
    by an older version is dropped when the file is read."""
    import msal

    emulator.add_fault("/oauth2/v2.0/token", status=503, retry_after=50)
    mapping = {}
    app = msal.ConfidentialClientApplication(
        profile.client_id, client_credential={"client_assertion": lambda: "x"},
        authority=f"{profile.authority_host}/{profile.tenant}", instance_discovery=False,
        http_client=HttpClient(ca_bundle=emulator.ca_bundle), http_cache=mapping)
    with pytest.raises(msal.exceptions.MsalServiceError):
        app.acquire_token_for_client(profile.default_scopes)
    assert any(key.startswith("POST ") for key in mapping)
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / cache.HTTP_CACHE).write_bytes(pickle.dumps(mapping))
    assert tokens.acquire(profile, directory=tmp_path).source == "network"
    kept = pickle.loads((tmp_path / cache.HTTP_CACHE).read_bytes())
    assert [k for k in kept if k != "_index_"] and all(
        k.startswith("GET ") for k in kept if k != "_index_")
