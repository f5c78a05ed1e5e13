"""Across processes: with pytest-xdist the whole run makes ONE token request per identity and
scopes (the core's locked cache is shared by the workers), the emulator is one for all workers,
and a token still valid from an earlier run is reused."""
FIFTY = '''
import hashlib
import os
from pathlib import Path

import pytest


@pytest.mark.parametrize("n", range(50))
def test_token(n, entra_token):
    digest = hashlib.sha256(entra_token.value.encode()).hexdigest()
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    Path(os.environ["TOKENS_DIR"], f"{n}-{worker}").write_text(digest)
'''


def seen_tokens(folder):
    files = list(folder.iterdir())
    return {f.read_text() for f in files}, {f.name.split("-")[1] for f in files}


def test_emulator_mode_with_two_workers_makes_one_token_request(pytester, run, monkeypatch,
                                                                tmp_path):
    monkeypatch.setenv("TOKENS_DIR", str(tmp_path))
    pytester.makepyfile(FIFTY)
    result = run("--entra-mode", "emulator", "-n", "2", subprocess=True)
    result.assert_outcomes(passed=50)
    tokens, workers = seen_tokens(tmp_path)
    assert len(tokens) == 1 and workers == {"gw0", "gw1"}
    # the controller's emulator served both workers: one token request in its log
    result.stdout.fnmatch_lines(["entracert: the emulator served 1 token request(s)"])


def test_live_mode_two_workers_and_a_second_run_make_one_token_request(
        pytester, run, monkeypatch, tmp_path, emulator, make_app):
    app = make_app("plugin-xdist-live")
    monkeypatch.setenv("TOKENS_DIR", str(tmp_path / "tokens"))
    (tmp_path / "tokens").mkdir()
    monkeypatch.setenv("AZURE_TENANT_ID", emulator.tenant_id)
    monkeypatch.setenv("AZURE_CLIENT_ID", app.app_id)
    monkeypatch.setenv("AZURE_CLIENT_CERTIFICATE_PATH", app.pem_path)
    monkeypatch.setenv("AZURE_AUTHORITY_HOST", emulator.authority_host)
    monkeypatch.setenv("ENTRACERT_CA_BUNDLE", emulator.ca_bundle)
    pytester.makepyfile(FIFTY)
    for _ in range(2):
        result = run("-n", "2", subprocess=True)
        result.assert_outcomes(passed=50)
        result.stdout.fnmatch_lines([f"entracert: mode live, tenant {emulator.tenant_id}, "
                                     f"client id {app.app_id}, certificate {app.pem_path} *"])
    tokens, workers = seen_tokens(tmp_path / "tokens")
    assert len(tokens) == 1 and workers == {"gw0", "gw1"}
    requests = [r for r in emulator.requests_log()
                if r["path"].endswith("/oauth2/v2.0/token") and r["client_id"] == app.app_id]
    assert len(requests) == 1
    # the cache lives in the Azure CLI folder (reused by later runs), not in the project
    assert len(list((tmp_path / "azure-config" / "entracert" / "tokens").glob("*.json"))) == 1


WORKER_REGISTERS = '''
import os


def test_a_worker_registers_and_grants_through_the_shared_emulator(entra_emulator,
                                                                   entra_token_factory):
    assert os.environ["PYTEST_XDIST_WORKER"] == "gw0"  # not the process that runs the emulator
    api = entra_emulator.create_application("orders-api", identifier_uris=["api://orders"],
                                            app_roles=["Orders.Read"])
    entra_emulator.grant_app_role(entra_emulator.client_id, "api://orders", "Orders.Read")
    token = entra_token_factory("api://orders/.default")
    assert entra_emulator.verify_access_token(token.value)["roles"] == ["Orders.Read"]
    assert entra_emulator.application(api["appId"])["displayName"] == "orders-api"
    asked = [r["scope"] for r in entra_emulator.token_requests(entra_emulator.client_id)]
    assert asked == ["api://orders/.default"]
'''


def test_a_worker_uses_the_controllers_emulator_over_https(pytester, run):
    pytester.makepyfile(WORKER_REGISTERS)
    result = run("--entra-mode", "emulator", "-n", "1", subprocess=True)
    result.assert_outcomes(passed=1)


TWO_IDENTITIES = '''
import pytest


@pytest.mark.parametrize("n", range(20))
def test_two_identities(n, entra_token, entra_token_factory):
    other = entra_token_factory(profile="other")
    assert other.client_id != entra_token.client_id and other.value != entra_token.value


def test_a_stranger_with_the_same_client_id_gets_no_cached_token(entra_token,
                                                                 entra_token_factory):
    assert entra_token.value  # the environment identity's token is in the shared cache
    with pytest.raises(pytest.fail.Exception, match="AADSTS700027"):
        entra_token_factory(profile="stranger")
'''


def test_workers_share_the_cache_per_identity_never_across_identities(
        pytester, run, monkeypatch, tmp_path, emulator, make_app):
    """Two identities over two workers: one token request each; a profile with the first one's
    client id but a certificate its application never registered is refused by the authority,
    not handed the first identity's cached token."""
    from azext_entracert.core import profiles

    mine, other = make_app("plugin-xdist-mine"), make_app("plugin-xdist-other", key_index=1)
    where = dict(tenant=emulator.tenant_id, authority_host=emulator.authority_host,
                 ca_bundle=emulator.ca_bundle)
    store = profiles.ProfileStore(tmp_path / "azure-config" / "entracert")
    store.add(profiles.new_profile("other", client_id=other.app_id, certificate=other.pem_path,
                                   **where))
    store.add(profiles.new_profile("stranger", client_id=mine.app_id,
                                   certificate=other.pem_path, **where))
    monkeypatch.setenv("AZURE_TENANT_ID", emulator.tenant_id)
    monkeypatch.setenv("AZURE_CLIENT_ID", mine.app_id)
    monkeypatch.setenv("AZURE_CLIENT_CERTIFICATE_PATH", mine.pem_path)
    monkeypatch.setenv("AZURE_AUTHORITY_HOST", emulator.authority_host)
    monkeypatch.setenv("ENTRACERT_CA_BUNDLE", emulator.ca_bundle)
    pytester.makepyfile(TWO_IDENTITIES)
    result = run("-n", "2", subprocess=True)
    result.assert_outcomes(passed=21)
    asked = [r for r in emulator.requests_log() if r["path"].endswith("/oauth2/v2.0/token")]
    assert sum(r["client_id"] == other.app_id for r in asked) == 1
    # the environment identity once; the stranger once, refused (its certificate is not mine's)
    assert sum(r["client_id"] == mine.app_id for r in asked) == 2
