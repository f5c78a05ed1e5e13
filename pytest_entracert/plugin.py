"""The ``pytest11`` entry point of entracert: options, hooks and the ``entra_*`` fixtures.

Only ``pytest`` and the standard library are imported here; msal, cryptography, azure-core and
PyJWT are imported when a fixture first needs a token, so a suite that does not use the plugin
pays next to nothing for it. The identity is resolved once per run, at session start, by the
process that runs the session (the xdist controller), and handed to the workers through
``workerinput``, together with the one shared emulator in emulator mode.
"""
import json

import pytest

from .config import EntraConfig, NotConfigured, add_options, read_settings, resolve_identity

_STATE = pytest.StashKey()
_WORKER_KEY = "entracert"
MARKER_KEYWORDS = ("scopes", "profile")


class _State:
    """What the plugin keeps for one run: settings, the resolved config, emulator, scrubber."""

    def __init__(self, settings, *, capture_off=False):
        self.settings = settings
        self.capture_off = capture_off  # -s: prints reach the terminal unless we scrub them
        self.config = None  # EntraConfig, set at session start
        self.shared = None  # SharedEmulator, in the process that owns it
        self.emulator_info = None
        self._redactor = None

    @property
    def redactor(self):
        """Made when a token fixture is first used: until then there is nothing to scrub."""
        if self._redactor is None:
            from .redact import Redactor

            self._redactor = Redactor(streams=self.capture_off)
        return self._redactor


def pytest_addoption(parser):
    add_options(parser)


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "entra(scopes=None, profile=None): scopes and az entracert profile of the "
        "entra_token fixture")
    state = config.stash[_STATE] = _State(read_settings(config),
                                          capture_off=config.getoption("capture") == "no")
    config.pluginmanager.register(_RunHooks(state), "entracert-run")
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(_XdistHooks(state), "entracert-xdist")


class _XdistHooks:
    """Registered only when pytest-xdist is installed: hands the resolved run to each worker."""

    def __init__(self, state):
        self._state = state

    def pytest_configure_node(self, node):
        state = self._state
        node.workerinput[_WORKER_KEY] = json.dumps(
            {"config": state.config.to_dict(), "emulator": state.emulator_info})


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session):
    """Resolve the identity (and start the emulator) before xdist starts its workers."""
    config = session.config
    state = config.stash[_STATE]
    worker = getattr(config, "workerinput", {}).get(_WORKER_KEY)
    if worker is not None:
        payload = json.loads(worker)
        state.config = EntraConfig.from_dict(payload["config"])
        state.emulator_info = payload["emulator"]
        return
    state.config = _resolve(state, config)


def _resolve(state, config):
    settings = state.settings
    mode, _ = settings["mode"]
    require, _ = settings["require"]
    common = dict(requested_mode=mode, require=require, refresh_skew=settings["refresh_skew"][0],
                  sources=tuple((name, source) for name, (_, source) in settings.items()
                                if source != "default"))
    if mode == "off":
        return EntraConfig(mode="off", enabled=False, skip_reason="entracert is off "
                           "(--entra-mode off)", **common)
    if mode == "emulator":
        from .emulator import SharedEmulator, profile_for

        state.shared = _core_call(SharedEmulator)
        config.add_cleanup(state.shared.close)
        state.emulator_info = state.shared.info
        profile = _core_call(lambda: profile_for(state.emulator_info))
        return EntraConfig(mode="emulator", enabled=True, profile=profile,
                           scopes=settings["scope"][0], cache_dir=state.emulator_info["cache_dir"],
                           **common)
    try:
        profile = _core_call(lambda: resolve_identity(settings))
    except NotConfigured as exc:
        if mode == "live" or require:
            flag = "--entra-mode live" if mode == "live" else "--entra-require"
            raise pytest.UsageError(f"entracert: {exc} ({flag} needs one).") from None
        return EntraConfig(mode="off", enabled=False, skip_reason=f"entracert: {exc}", **common)
    from azext_entracert.core.profiles import config_dir

    return EntraConfig(mode="live", enabled=True, profile=profile, scopes=settings["scope"][0],
                       cache_dir=str(config_dir()), **common)


def _core_call(function):
    """Run a core call at session start; its errors become usage errors (what, why, fix)."""
    try:
        return function()
    except NotConfigured:
        raise
    except Exception as exc:
        from azext_entracert.core.errors import EntraCertError

        if isinstance(exc, EntraCertError):
            raise pytest.UsageError(f"entracert: {exc}") from None
        raise


def pytest_collection_modifyitems(config, items):
    """Refuse a misspelt ``entra`` marker before any test runs: ``scope=`` silently ignored would
    hand the test the default token. An xdist worker cannot stop the run cleanly, so there
    ``entra_token`` fails each such test with the same words."""
    if hasattr(config, "workerinput"):
        return
    for item in items:
        error = _marker_error(item)
        if error:
            raise pytest.UsageError(error)


def _marker_error(item):
    for marker in item.iter_markers("entra"):
        unknown = sorted(set(marker.kwargs) - set(MARKER_KEYWORDS))
        if unknown or len(marker.args) > 1:
            given = ", ".join(unknown) or f"{len(marker.args)} positional arguments"
            return (f"entracert: @pytest.mark.entra on {item.nodeid} takes the keywords "
                    f"{' and '.join(MARKER_KEYWORDS)} (or the scopes alone), not {given}.")
    return None


def pytest_report_header(config):
    entra = config.stash[_STATE].config
    if entra is None:
        return None
    if entra.mode == "off" and entra.requested_mode == "off":
        return entra.skip_reason
    if not entra.enabled:  # one short line: most suites that never ask for a token see it
        return "entracert: no identity configured; tests that need a token are skipped"
    return (f"entracert: mode {entra.mode}, tenant {entra.tenant}, client id {entra.client_id}, "
            f"thumbprint {entra.thumbprint or 'unknown'}")


class _RunHooks:
    """Hooks that need this run's state (pytest passes them no ``config``)."""

    def __init__(self, state):
        self._state = state

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report):
        """Scrub issued tokens out of the report before any reporter (or xdist) sees it."""
        if self._state._redactor is not None:
            self._state._redactor.scrub_report(report)

    @pytest.hookimpl(tryfirst=True)
    def pytest_warning_recorded(self, warning_message):
        """Scrub issued tokens out of a warning before the warnings summary (or xdist) sees it."""
        if self._state._redactor is not None:
            self._state._redactor.scrub_warning(warning_message)

    def pytest_terminal_summary(self, terminalreporter):
        if self._state.shared is not None:
            served = self._state.shared.emulator.requests_log()
            count = sum(1 for r in served if r["path"].endswith("/oauth2/v2.0/token"))
            terminalreporter.write_line(f"entracert: the emulator served {count} token request(s)")


def pytest_unconfigure(config):
    state = config.stash.get(_STATE, None)
    if state is not None and state._redactor is not None:
        state._redactor.close()


# --- fixtures ---------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def entra_config(pytestconfig):
    """The resolved entracert settings of this run, a frozen ``EntraConfig``: ``mode`` (live,
    emulator or off), ``enabled``/``skip_reason``, ``profile`` (tenant, client id, certificate,
    authority), default ``scopes``, ``cache_dir`` and ``refresh_skew``. Override it in a
    ``conftest.py`` to change what the other entra fixtures use (``pytest --fixtures -v`` shows
    how).

    For example::

        @pytest.fixture(scope="session")
        def entra_config(entra_config):
            return dataclasses.replace(entra_config, scopes=("api://my-api/.default",))
    """
    return pytestconfig.stash[_STATE].config


@pytest.fixture(scope="session")
def entra_token_factory(pytestconfig, entra_config):
    """``entra_token_factory(scopes=None, *, profile=None, force=False) -> EntraToken``, where
    ``profile`` names an ``az entracert`` profile instead of the configured identity. Tokens come
    from the shared, locked cache: one token request per identity and scopes for the whole run,
    xdist workers included, and still-valid tokens of earlier runs are reused (``force=True``
    asks the authority anyway). Skips the test when no identity is configured (``--entra-mode
    auto``); fails it with the reason when the token cannot be had.
    """
    from .token import EntraTokenFactory

    if not entra_config.enabled:
        pytest.skip(entra_config.skip_reason)
    return EntraTokenFactory(entra_config, redactor=pytestconfig.stash[_STATE].redactor)


@pytest.fixture(scope="session")
def entra_credential(entra_token_factory):
    """An azure-core ``TokenCredential`` for the configured identity: pass it to any Azure SDK
    client (``SomeClient(url, credential=entra_credential)``). Backed by the shared token cache;
    ``get_token(*scopes, claims=None, tenant_id=None)`` and ``get_token_info(*scopes,
    options=None)``; a ``claims`` challenge bypasses the cache, another tenant is refused."""
    from .token import EntraCredential

    return EntraCredential(entra_token_factory)


@pytest.fixture
def entra_token(request, entra_token_factory):
    """An ``EntraToken`` for this test (``.value``, ``.headers()``, ``.claims``, ``.expires_on``;
    its ``repr`` never shows the token), for the scopes and profile of the nearest
    ``@pytest.mark.entra(scopes=[...], profile=...)`` marker, else ``--entra-scope``, else the
    identity's default. Checked before each test: a token within ``entra_refresh_skew`` seconds
    of expiry is replaced, so a long run never hands out an expired one.
    """
    error = _marker_error(request.node)
    if error:
        pytest.fail(error, pytrace=False)
    marker = request.node.get_closest_marker("entra")
    kwargs = dict(marker.kwargs) if marker else {}
    if marker and marker.args and "scopes" not in kwargs:
        kwargs["scopes"] = marker.args[0]
    return entra_token_factory(kwargs.get("scopes"), profile=kwargs.get("profile"))


@pytest.fixture(scope="session")
def entra_emulator(pytestconfig, tmp_path_factory):
    """The local Entra ID + Microsoft Graph emulator (opt-in), an ``EntraEmulator`` with
    ``authority_host``, ``tenant_id``, ``client_id``, ``certificate`` (PEM path), ``ca_bundle``,
    ``jwks_url``, ``token_endpoint``, ``create_application(...)``, ``grant_app_role(...)``,
    ``requests_log()``/``token_requests()``/``clear_log()``, ``add_fault(...)`` and
    ``verify_access_token(token)``. In ``--entra-mode emulator`` it is the run's one emulator,
    shared by all xdist workers, whose application the token fixtures sign in as; in other modes
    a private one is started for this process.
    """
    from .emulator import EntraEmulator, SharedEmulator

    state = pytestconfig.stash[_STATE]
    if state.config.requested_mode == "off":
        pytest.skip(state.config.skip_reason)
    if state.shared is not None:
        yield EntraEmulator(state.emulator_info, state.shared.emulator)
    elif state.emulator_info is not None:
        yield EntraEmulator(state.emulator_info)
    else:
        own = SharedEmulator(tmp_path_factory.mktemp("entra-emulator"))
        try:
            yield EntraEmulator(own.info, own.emulator)
        finally:
            own.close()
