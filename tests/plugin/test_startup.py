"""The installed plugin costs a suite that does not use it (almost) nothing: no msal,
cryptography, azure, PyJWT or requests import, and no core import while nothing is configured.
``scripts/bench_plugin_startup.py`` measures the time."""
import json

import pytest

HEAVY = ("msal", "cryptography", "azure", "jwt", "requests", "azext_entracert")


def test_an_unconfigured_run_imports_nothing_heavy(pytester, run, tmp_path):
    modules = tmp_path / "modules.json"
    pytester.makeconftest(f'''
        import json, sys

        def pytest_unconfigure(config):
            with open({str(modules)!r}, "w") as handle:
                json.dump(sorted(sys.modules), handle)
    ''')
    pytester.makepyfile("def test_plain(): pass")
    result = run("-p", "no:xdist", subprocess=True)
    result.assert_outcomes(passed=1)
    loaded = json.loads(modules.read_text())
    assert "pytest_entracert.plugin" in loaded
    assert [m for m in loaded if m.split(".")[0] in HEAVY] == []


TENANT = "11111111-1111-1111-1111-111111111111"
CLIENT = "44444444-4444-4444-4444-444444444444"


def record_modules(pytester, path):
    pytester.makeconftest(f'''
        import json, sys

        def pytest_unconfigure(config):
            with open({str(path)!r}, "w") as handle:
                json.dump(sorted(sys.modules), handle)
    ''')


@pytest.mark.parametrize("configured", ["a default profile", "an identity in the environment"])
def test_a_configured_identity_is_loaded_only_when_a_test_needs_a_token(
        pytester, run, tmp_path, monkeypatch, certificate_pem, configured):
    """The header names the identity; the core, cryptography and the certificate wait for the
    first fixture that needs a token (``scripts/bench_plugin_startup.py`` measures the time)."""
    if configured == "a default profile":
        from azext_entracert.core import profiles

        profiles.ProfileStore().add(profiles.new_profile(
            "ci", tenant=TENANT, client_id=CLIENT, certificate=str(certificate_pem)))
        header = "entracert: mode live, the default az entracert profile (loaded when a test *"
    else:
        monkeypatch.setenv("AZURE_TENANT_ID", TENANT)
        monkeypatch.setenv("AZURE_CLIENT_ID", CLIENT)
        monkeypatch.setenv("AZURE_CLIENT_CERTIFICATE_PATH", str(certificate_pem))
        header = (f"entracert: mode live, tenant {TENANT}, client id {CLIENT}, certificate "
                  f"{certificate_pem} (loaded when a test first needs it)")
    modules = tmp_path / "modules.json"
    record_modules(pytester, modules)
    pytester.makepyfile("def test_plain(): pass")
    result = run("-p", "no:xdist", subprocess=True)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([header])
    assert [m for m in json.loads(modules.read_text()) if m.split(".")[0] in HEAVY] == []



@pytest.mark.parametrize("configured", ["nothing", "an identity in the environment"])
def test_an_unused_plugin_loads_and_registers_only_what_start_up_needs(
        pytester, run, tmp_path, monkeypatch, certificate_pem, configured):
    """pytest scans every registered plugin for hooks and fixtures and calls its hooks around
    every test: until a run has an emulator or issues a token, the plugin's per-run hooks
    (scrubbing, emulator resets) would do nothing, so they are not registered; and the modules
    that explain errors, make tokens or scrub output are not imported."""
    if configured != "nothing":
        monkeypatch.setenv("AZURE_TENANT_ID", TENANT)
        monkeypatch.setenv("AZURE_CLIENT_ID", CLIENT)
        monkeypatch.setenv("AZURE_CLIENT_CERTIFICATE_PATH", str(certificate_pem))
    seen = tmp_path / "seen.json"
    pytester.makeconftest(f'''
        import json, sys

        def pytest_unconfigure(config):
            with open({str(seen)!r}, "w") as handle:
                json.dump({{
                    "modules": sorted(m for m in sys.modules if m.startswith("pytest_entracert")),
                    "plugins": sorted(name for name, _ in config.pluginmanager.list_name_plugin()
                                      if str(name).startswith("entracert"))}}, handle)
    ''')
    pytester.makepyfile("def test_plain(): pass")
    result = run("-p", "no:xdist", subprocess=True)
    result.assert_outcomes(passed=1)
    assert json.loads(seen.read_text()) == {
        "modules": ["pytest_entracert", "pytest_entracert.config", "pytest_entracert.hooks",
                    "pytest_entracert.plugin"],
        "plugins": ["entracert"]}

def test_collect_only_never_starts_the_emulator(pytester, run, tmp_path):
    modules = tmp_path / "modules.json"
    record_modules(pytester, modules)
    pytester.makepyfile("def test_uses(entra_emulator): pass")
    result = run("--entra-mode=emulator", "--collect-only", "-p", "no:xdist", subprocess=True)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["entracert: mode emulator (not started for --collect-only)",
                                 "*test_uses*"])
    assert [m for m in json.loads(modules.read_text()) if m.split(".")[0] in HEAVY] == []
