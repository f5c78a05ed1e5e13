"""The emulator as a real suite uses it: set-up that is safe under xdist and across runs, faults
and log views scoped to the test that made them, a long-lived emulator shared by runs, and tests
that only make sense against the emulator."""
import pytest
import requests

from azext_entracert.emulator import service

# --- xdist-safe set-up --------------------------------------------------------------------------

ENSURE_IN_A_SESSION_FIXTURE = '''
import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def orders_api(entra_emulator):
    api = entra_emulator.ensure_application("orders-api", identifier_uris=["api://orders"],
                                            app_roles=["Orders.Read"], with_certificate=True)
    entra_emulator.grant_app_role(entra_emulator.client_id, "api://orders", "Orders.Read")
    return api


@pytest.mark.parametrize("n", range(8))
def test_orders(n, orders_api, entra_token_factory, entra_emulator):
    token = entra_token_factory("api://orders/.default")
    assert entra_emulator.verify_access_token(token.value)["roles"] == ["Orders.Read"]
    # it signs in too, every worker with the one key kept for it
    own = entra_token_factory(profile=orders_api)
    assert entra_emulator.verify_access_token(own.value)["appid"] == orders_api.client_id
    assert len(entra_emulator.application(orders_api.client_id)["keyCredentials"]) == 1
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    Path(os.environ["SEEN_DIR"], f"{n}-{worker}").write_text(orders_api["appId"])
'''


def test_ensure_application_in_a_session_fixture_on_two_workers(pytester, run, monkeypatch,
                                                                 tmp_path):
    """Both workers set up the same session fixture: one application, not a 409 on the second,
    and with ``with_certificate=True`` one key both sign in with."""
    monkeypatch.setenv("SEEN_DIR", str(tmp_path))
    pytester.makepyfile(ENSURE_IN_A_SESSION_FIXTURE)
    result = run("--entra-mode=emulator", "-n", "2", subprocess=True)
    result.assert_outcomes(passed=8)
    seen = {f.name.split("-")[1]: f.read_text() for f in tmp_path.iterdir()}
    assert set(seen) == {"gw0", "gw1"} and len(set(seen.values())) == 1


SETUP_HOOK = '''
import os
from pathlib import Path


def pytest_entracert_emulator_setup(emulator):
    with open(os.environ["HOOK_CALLS"], "a") as calls:
        calls.write(os.environ.get("PYTEST_XDIST_WORKER", "controller") + "\\n")
    emulator.ensure_application("orders-api", identifier_uris=["api://orders"],
                                app_roles=["Orders.Read"])
    emulator.grant_app_role(emulator.client_id, "api://orders", "Orders.Read")
    emulator.add_fault("/never-requested", count=100)  # outside a test: outlives the first
'''

USES_THE_SEEDED_API = '''
import pytest


@pytest.mark.parametrize("n", range(6))
def test_seeded(n, entra_token_factory, entra_emulator):
    token = entra_token_factory("api://orders/.default")
    assert entra_emulator.verify_access_token(token.value)["roles"] == ["Orders.Read"]
'''


def test_the_setup_hook_runs_once_in_the_controller_before_the_workers(pytester, run,
                                                                       monkeypatch, tmp_path):
    calls = tmp_path / "calls"
    monkeypatch.setenv("HOOK_CALLS", str(calls))
    pytester.makeconftest(SETUP_HOOK)
    pytester.makepyfile(USES_THE_SEEDED_API)
    result = run("--entra-mode=emulator", "-n", "2", subprocess=True)
    result.assert_outcomes(passed=6)
    assert calls.read_text().split() == ["controller"]


def test_the_setup_hook_seeds_a_private_emulator_when_it_starts(pytester, run, monkeypatch,
                                                                tmp_path):
    """Outside emulator mode ``entra_emulator`` starts its own emulator: the hook seeds it."""
    monkeypatch.setenv("HOOK_CALLS", str(tmp_path / "calls"))
    pytester.makeconftest(SETUP_HOOK)
    pytester.makepyfile('''
        def test_seeded(entra_emulator):
            assert entra_emulator.ensure_application("orders-api")["identifierUris"] == [
                "api://orders"]
    ''')
    run("-p", "no:xdist", subprocess=True).assert_outcomes(passed=1)
    assert (tmp_path / "calls").read_text().split() == ["controller"]



def test_ensure_application_adds_what_the_application_lacks(pytester, run):
    pytester.makepyfile('''
        from azext_entracert.core import certgen


        def test_merge(entra_emulator):
            first = entra_emulator.ensure_application("merge-me", identifier_uris=["api://m"])
            certificate = certgen.create_self_signed("CN=merge-me", key_size=2048,
                                                     days=1).certificate
            again = dict(identifier_uris=["api://m", "api://m2"], app_roles=["Things.Read"],
                         certificates=[certificate])
            second = entra_emulator.ensure_application("merge-me", **again)
            third = entra_emulator.ensure_application("merge-me", **again)
            assert first["appId"] == second["appId"] == third["appId"]
            assert third["identifierUris"] == ["api://m", "api://m2"]
            assert [role["value"] for role in third["appRoles"]] == ["Things.Read"]
            assert len(third["keyCredentials"]) == 1  # by thumbprint: not added twice
    ''')
    run("--entra-mode=emulator", "-p", "no:xdist", subprocess=True).assert_outcomes(passed=1)

# --- per-test isolation -------------------------------------------------------------------------

ISOLATION = '''
import requests


def jwks(emulator):
    return requests.get(emulator.jwks_url, verify=emulator.ca_bundle, timeout=10)


def jwks_served(emulator, **view):
    return [r for r in emulator.requests_log(**view) if r["path"].endswith("/keys")]


def test_1_adds_a_fault_it_does_not_spend(entra_emulator):
    fault = entra_emulator.add_fault("/discovery/v2.0/keys", status=503, count=5)
    assert fault["id"]
    assert jwks(entra_emulator).status_code == 503


def test_2_does_not_inherit_it(entra_emulator):
    assert jwks(entra_emulator).status_code == 200


def test_3_spends_its_fault_whole(entra_emulator):
    entra_emulator.add_fault("/discovery/v2.0/keys", status=500)
    assert jwks(entra_emulator).status_code == 500  # and its end removes nothing: no error


def test_4_clears_the_log_for_itself(entra_emulator):
    assert len(jwks_served(entra_emulator)) == 3
    entra_emulator.clear_log()
    jwks(entra_emulator)
    assert len(jwks_served(entra_emulator)) == 1


def test_5_sees_the_whole_log_and_its_own(entra_emulator):
    assert len(jwks_served(entra_emulator)) == 4  # the clear of test 4 ended with test 4
    assert jwks_served(entra_emulator, this_test=True) == []
    jwks(entra_emulator)
    assert len(jwks_served(entra_emulator, this_test=True)) == 1
'''


@pytest.mark.parametrize("where", [("-p", "no:xdist"), ("-n", "2", "--dist=loadfile")],
                         ids=["in-process", "xdist-worker"])
def test_a_tests_faults_and_log_clearing_end_with_it(pytester, run, where):
    """The same, in the process that owns the emulator and in a worker that reaches it over
    HTTPS (the control API's DELETE by fault id)."""
    pytester.makepyfile(ISOLATION)
    result = run("--entra-mode=emulator", "-p", "no:randomly", *where, subprocess=True)
    result.assert_outcomes(passed=5)


def test_the_control_api_removes_one_fault_by_its_id(emulator):
    control = f"{emulator.authority_host}/_emulator/faults"
    mine = requests.post(control, json={"path": "/mine", "status": 503, "count": 9},
                         verify=emulator.ca_bundle, timeout=10).json()
    theirs = requests.post(control, json={"path": "/theirs", "status": 503, "count": 9},
                           verify=emulator.ca_bundle, timeout=10).json()
    try:
        gone = requests.delete(f"{control}/{mine['id']}", verify=emulator.ca_bundle, timeout=10)
        assert gone.status_code == 204
        again = requests.delete(f"{control}/{mine['id']}", verify=emulator.ca_bundle, timeout=10)
        assert again.status_code == 404 and "spent" in again.json()["error_description"]
        url = emulator.authority_host
        assert requests.get(f"{url}/mine", verify=emulator.ca_bundle, timeout=10).status_code == 404
        assert requests.get(f"{url}/theirs", verify=emulator.ca_bundle,
                            timeout=10).status_code == 503
    finally:
        requests.delete(f"{control}/{theirs['id']}", verify=emulator.ca_bundle, timeout=10)


# --- a shared, long-lived emulator --------------------------------------------------------------

@pytest.fixture(scope="module")
def running_emulator(tmp_path_factory):
    """An emulator started as ``az entracert emulator start`` starts it (a detached process)."""
    state_dir = tmp_path_factory.mktemp("long-lived") / "state"
    found = service.start(state_dir)
    try:
        yield found
    finally:
        service.stop(state_dir)


ATTACHED = '''
import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def orders_api(entra_emulator):
    return entra_emulator.ensure_application("orders-api", identifier_uris=["api://orders"],
                                             with_certificate=True)


@pytest.mark.parametrize("n", range(4))
def test_attached(n, orders_api, entra_token, entra_emulator, entra_config, entra_token_factory):
    assert entra_config.mode == "emulator"
    assert entra_emulator.verify_access_token(entra_token.value)["appid"] == entra_config.client_id
    entra_token_factory(profile=orders_api)  # the key kept beside the state, in every run
    assert len(entra_emulator.application(orders_api.client_id)["keyCredentials"]) == 1
    Path(os.environ["SEEN_DIR"], f"{n}-{os.getpid()}").write_text(
        orders_api["appId"] + " " + entra_config.client_id)
'''


def test_runs_attach_to_a_running_emulator_and_find_what_earlier_runs_made(
        pytester, run, monkeypatch, tmp_path, running_emulator):
    state_dir = running_emulator["state_dir"]
    monkeypatch.setenv("SEEN_DIR", str(tmp_path))
    pytester.makepyfile(ATTACHED)
    first = run(f"--entra-emulator-state={state_dir}", "-n", "2", subprocess=True)
    first.assert_outcomes(passed=4)
    first.stdout.fnmatch_lines([f"entracert: mode emulator, tenant "
                                f"{running_emulator['tenant_id']}, *"])
    monkeypatch.setenv("ENTRACERT_EMULATOR_STATE", state_dir)
    run("-p", "no:xdist", subprocess=True).assert_outcomes(passed=4)
    # both runs, all processes: one orders-api and one test application in the tenant
    assert len({f.read_text() for f in tmp_path.iterdir()}) == 1
    assert service.status(state_dir)["pid"] == running_emulator["pid"]  # attached, not started


def test_attaching_where_no_emulator_runs_is_a_usage_error(pytester, run):
    pytester.makeini("[pytest]\nentra_emulator_state = no-emulator-here\n")
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = run(subprocess=True)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*entracert: No emulator is running on the state dir "
                                 f"'{pytester.path / 'no-emulator-here'}'*az entracert emulator "
                                 f"start --state-dir=*"])
    assert "Traceback" not in result.stderr.str()


def test_ensure_application_adds_a_missing_service_principal(pytester, run, running_emulator):
    """An application made over Graph alone has no service principal: ensuring it makes one."""
    from azext_entracert.core import graph, tokens
    from azext_entracert.core.http import HttpClient
    from azext_entracert.core.profiles import new_profile

    admin = new_profile("admin", tenant=running_emulator["tenant_id"],
                        client_id=running_emulator["admin"]["client_id"],
                        certificate=running_emulator["admin"]["certificate"],
                        authority_host=running_emulator["authority_host"],
                        ca_bundle=running_emulator["ca_bundle"], check_name_rules=False)
    http = HttpClient(ca_bundle=running_emulator["ca_bundle"])
    cache = pytester.path / "admin-cache"
    client = graph.GraphClient(endpoint=running_emulator["graph_endpoint"], http=http,
                               token_provider=lambda: tokens.acquire(admin, directory=cache).token)
    try:
        client.call("POST", "applications", body={"displayName": "no-principal-yet"})
    finally:
        http.close()
    pytester.makepyfile('''
        def test_grant_needs_both_principals(entra_emulator):
            app = entra_emulator.ensure_application("no-principal-yet")
            entra_emulator.ensure_application("orders-api", identifier_uris=["api://orders"],
                                              app_roles=["Orders.Read"])
            entra_emulator.grant_app_role(app["appId"], "api://orders", "Orders.Read")
    ''')
    result = run(f"--entra-emulator-state={running_emulator['state_dir']}", "-p", "no:xdist",
                 subprocess=True)
    result.assert_outcomes(passed=1)


# --- one suite, offline and live ----------------------------------------------------------------

EMULATOR_ONLY = '''
import pytest


@pytest.mark.entra_emulator_only
def test_needs_the_emulator(entra_emulator):
    entra_emulator.add_fault("/oauth2/v2.0/token", status=503)


def test_runs_everywhere():
    pass
'''


def test_emulator_only_tests_are_skipped_with_a_reason_in_live_runs(
        pytester, run, monkeypatch, emulator, make_app):
    app = make_app("plugin-emulator-only")
    for name, value in (("AZURE_TENANT_ID", emulator.tenant_id), ("AZURE_CLIENT_ID", app.app_id),
                        ("AZURE_CLIENT_CERTIFICATE_PATH", app.pem_path),
                        ("AZURE_AUTHORITY_HOST", emulator.authority_host),
                        ("ENTRACERT_CA_BUNDLE", emulator.ca_bundle)):
        monkeypatch.setenv(name, value)
    pytester.makepyfile(EMULATOR_ONLY)
    live = run("--strict-markers", "-rs", "-n", "2", subprocess=True)
    live.assert_outcomes(passed=1, skipped=1)
    live.stdout.fnmatch_lines(["SKIPPED*entracert: entra_emulator_only, and this run is live*"])
    offline = run("--strict-markers", "--entra-mode=emulator", "-n", "2", subprocess=True)
    offline.assert_outcomes(passed=2)

