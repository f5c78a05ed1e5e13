"""The hook entracert calls, for a ``conftest.py`` or a plugin to implement."""


def pytest_entracert_emulator_setup(emulator):
    """Seed the emulator before any test uses it: called once for each emulator the plugin
    starts or attaches to, with the ``EntraEmulator`` the ``entra_emulator`` fixture gives.

    In ``--entra-mode=emulator`` (or with ``--entra-emulator-state``) that is once per run, in
    the xdist controller before its workers start, so what it registers exists for every worker
    and nothing races; where ``entra_emulator`` starts a private emulator (other modes), it is
    when that emulator starts. Faults it adds last until they are spent (a test's own end with
    the test). Use ``emulator.ensure_application(...)`` so a rerun against a long-lived
    emulator finds what the last run made::

        def pytest_entracert_emulator_setup(emulator):
            emulator.ensure_application("orders-api", identifier_uris=["api://orders"],
                                        app_roles=["Orders.Read"])
            emulator.grant_app_role(emulator.client_id, "api://orders", "Orders.Read")
    """
