"""The installed plugin costs a suite that does not use it (almost) nothing: no msal,
cryptography, azure, PyJWT or requests import, and no core import while nothing is configured.
``scripts/bench_plugin_startup.py`` measures the time."""
import json

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
