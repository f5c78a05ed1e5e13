"""The ``pytest11`` entry point of entracert.

Its fixtures arrive with the plugin issue; until then it only registers the ``entra`` marker so
that suites using it already pass under ``--strict-markers``. Nothing heavy is imported here: a
test suite that does not use the plugin pays nothing for it.
"""


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "entra(scopes=None, profile=None): scopes and profile for the entra_token fixture")
