"""The ``pytest11`` entry point of entracert: options, hooks and the ``entra_*`` fixtures.

Only ``pytest`` and the standard library are imported here; msal, cryptography, azure-core and
PyJWT are imported when a fixture first needs a token, so a suite that does not use the plugin
pays next to nothing for it. At session start the process that runs the session (the xdist
controller) only reads the settings, for the report header, and hands them to the workers
through ``workerinput`` with the one shared emulator of emulator mode; the identity is resolved,
and its certificate loaded, by the first fixture that needs it (at session start with
``--entra-require`` or ``--entra-mode=live``, which fail fast). Failed token requests and
emulator changes are shared by the run's processes through a folder of the run (``RunMemo``).
"""
import dataclasses
import json
import os
import tempfile

import pytest

from .config import (
    EntraConfig,
    Incomplete,
    NotConfigured,
    add_options,
    outline,
    read_settings,
    resolve_identity,
)

_STATE = pytest.StashKey()
_EARLY_REDACTOR = pytest.StashKey()
_WORKER_KEY = "entracert"
MARKER_KEYWORDS = ("scopes", "profile")


class _State:
    """What the plugin keeps for one run: settings, the resolved config, emulator, scrubber."""

    def __init__(self, settings, *, pluginmanager, capture_off=False, redactor=None):
        self.settings = settings
        self.capture_off = capture_off  # -s: prints reach the terminal unless we scrub them
        self._pluginmanager = pluginmanager
        self.config = None  # EntraConfig, set at session start
        self.shared = None  # SharedEmulator (or AttachedEmulator), in the controller
        self.emulator_info = None
        self._emulator = None
        self._redactor = redactor  # made before capturing starts under --capture=tee-sys
        self.header = None  # the report header's line, when the config alone cannot say it
        self.run_dir = None  # the RunMemo's folder, the same in every process of the run
        self._memo = None
        if redactor is not None:
            self._hook_in()

    def _hook_in(self):
        """Register ``_RunHooks`` once there is an emulator to reset or a token to scrub: until
        then they would do nothing, and a run that never has either is spared pytest's scan of
        them and their calls around every test."""
        if not self._pluginmanager.has_plugin("entracert-run"):
            self._pluginmanager.register(_RunHooks(self), "entracert-run")

    @property
    def emulator(self):
        """This process's ``EntraEmulator``, once made: scoped to each test."""
        return self._emulator

    @emulator.setter
    def emulator(self, emulator):
        self._emulator = emulator
        if emulator is not None:
            self._hook_in()

    def resolved(self):
        """The run's ``EntraConfig`` with its identity resolved, which the first fixture that
        needs it does (in each process that runs tests)."""
        if self.config.enabled and self.config.profile is None:
            self.config = _resolve_identity(self.settings, self.config)
        return self.config

    @property
    def memo(self):
        if self._memo is None:
            from .token import RunMemo

            self._memo = RunMemo(self.run_dir)
        return self._memo

    @property
    def redactor(self):
        """Made when a token fixture is first used: until then there is nothing to scrub."""
        if self._redactor is None:
            from .redact import Redactor

            self._redactor = Redactor(streams=self.capture_off)
            reporter = self._pluginmanager.get_plugin("terminalreporter")
            if reporter is not None:
                self._redactor.wrap_writer(reporter._tw)
            self._hook_in()
        return self._redactor


def pytest_addoption(parser):
    add_options(parser)


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_load_initial_conftests(early_config):
    """``--capture=tee-sys`` echoes a test's prints to the stream that is ``sys.stdout`` when
    capturing starts (right after this hook's first half), held where no hook reaches it: make
    that stream a scrubbing one now. Its clean-up runs after capture's, which puts it back."""
    if early_config.known_args_namespace.capture == "tee-sys":
        from .redact import Redactor

        redactor = early_config.stash[_EARLY_REDACTOR] = Redactor(streams=True)
        early_config.add_cleanup(redactor.close)
    yield


def pytest_addhooks(pluginmanager):
    from . import hooks

    pluginmanager.add_hookspecs(hooks)


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "entra(scopes=None, profile=None): scopes and az entracert profile of the "
        "entra_token fixture")
    config.addinivalue_line(
        "markers", "entra_emulator_only: the test needs the emulator; skipped unless entracert "
        "runs in emulator mode (--entra-mode=emulator or --entra-emulator-state=DIR)")
    state = config.stash[_STATE] = _State(read_settings(config),
                                          capture_off=config.getoption("capture") == "no",
                                          redactor=config.stash.get(_EARLY_REDACTOR, None),
                                          pluginmanager=config.pluginmanager)
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(_XdistHooks(state), "entracert-xdist")


class _XdistHooks:
    """Registered only when pytest-xdist is installed: hands the resolved run to each worker."""

    def __init__(self, state):
        self._state = state

    def pytest_configure_node(self, node):
        state = self._state
        node.workerinput[_WORKER_KEY] = json.dumps(
            {"config": state.config.to_dict(), "emulator": state.emulator_info,
             "run_dir": state.run_dir})

    def pytest_testnodedown(self, node):
        """Learn the tokens a worker issued (see ``_RunHooks.pytest_sessionfinish``)."""
        secrets = getattr(node, "workeroutput", {}).get(_WORKER_KEY)
        for secret in secrets or ():
            self._state.redactor.add(secret)


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session):
    """Resolve the identity (and start the emulator) before xdist starts its workers."""
    config = session.config
    state = config.stash[_STATE]
    worker = getattr(config, "workerinput", {}).get(_WORKER_KEY)
    if worker is not None:
        payload = json.loads(worker)
        state.config = EntraConfig.from_dict(payload["config"])
        state.emulator_info, state.run_dir = payload["emulator"], payload["run_dir"]
        return
    # Made when first written to; removed with the run (failures must not outlive it).
    state.run_dir = os.path.join(tempfile.gettempdir(),
                                 f"entracert-run-{os.getpid()}-{os.urandom(6).hex()}")
    config.add_cleanup(lambda: _remove_tree(state.run_dir))
    state.config = _resolve(state, config)


def _remove_tree(folder):
    import shutil

    shutil.rmtree(folder, ignore_errors=True)


def _resolve(state, config):
    settings = state.settings
    mode, _ = settings["mode"]
    require, _ = settings["require"]
    common = dict(requested_mode=mode, require=require, refresh_skew=settings["refresh_skew"][0],
                  sources=tuple((name, source) for name, (_, source) in settings.items()
                                if source != "default"))
    if mode == "off":
        return EntraConfig(mode="off", enabled=False, skip_reason="entracert is off "
                           "(--entra-mode=off)", **common)
    attach_to = settings["emulator_state"][0]
    if (mode == "emulator" or (mode == "auto" and attach_to)) and config.option.collectonly:
        state.header = "entracert: mode emulator (not started for --collect-only)"
        return EntraConfig(mode="emulator", enabled=False, skip_reason="entracert: the emulator "
                           "is not started for --collect-only", **common)
    if mode == "emulator" or (mode == "auto" and attach_to):
        from .emulator import AttachedEmulator, EntraEmulator, SharedEmulator, profile_for

        state.shared = _core_call(lambda: AttachedEmulator(attach_to) if attach_to
                                  else SharedEmulator())
        config.add_cleanup(state.shared.close)
        state.emulator_info = state.shared.info
        # Before xdist starts its workers (this hook runs first): what it seeds, all of them see.
        state.emulator = EntraEmulator(state.emulator_info, state.shared.emulator)
        _core_call(lambda: config.hook.pytest_entracert_emulator_setup(emulator=state.emulator))
        profile = _core_call(lambda: profile_for(state.emulator_info))
        return EntraConfig(mode="emulator", enabled=True, profile=profile,
                           scopes=settings["scope"][0], cache_dir=state.emulator_info["cache_dir"],
                           **common)
    live = EntraConfig(mode="live", enabled=True, scopes=settings["scope"][0], **common)
    flag = "--entra-mode=live" if mode == "live" else "--entra-require" if require else None
    try:
        named = outline(settings)
    except NotConfigured as exc:
        if flag:
            raise pytest.UsageError(f"entracert: {exc} ({flag} needs one).") from None
        if isinstance(exc, Incomplete):
            state.header = (f"entracert: identity incomplete: {exc.what}; tests that need a "
                            "token are skipped")
        return EntraConfig(mode="off", enabled=False, skip_reason=f"entracert: {exc}", **common)
    if flag:  # fail fast: resolved and loaded now
        resolved = _resolve_identity(settings, live)
        if not resolved.enabled:
            raise pytest.UsageError(resolved.error or f"{resolved.skip_reason} ({flag} needs one).")
        return resolved
    state.header = (f"entracert: identity incomplete: {named.problem}; tests that need a token "
                    "fail with the reason" if named.problem else
                    f"entracert: mode live, {named.words} (loaded when a test first needs it)")
    return live


def _resolve_identity(settings, entra):
    """``entra`` with the identity the settings name, resolved and its certificate loaded; what
    stops that skips (nothing configured after all) or fails (``error``) the tests that need a
    token."""
    from azext_entracert.core.errors import EntraCertError

    from .config import EXPLICIT_PROFILE
    from .reasons import explain

    try:
        profile = resolve_identity(settings)
    except NotConfigured as exc:  # e.g. a profile store without a default profile
        return dataclasses.replace(entra, mode="off", enabled=False,
                                   skip_reason=f"entracert: {exc}")
    except EntraCertError as exc:
        return dataclasses.replace(entra, enabled=False,
                                   error=f"entracert: {explain(exc, EXPLICIT_PROFILE)}")
    from azext_entracert.core.profiles import config_dir

    return dataclasses.replace(entra, profile=profile, cache_dir=str(config_dir()))


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
    ``entra_token`` fails each such test with the same words.

    Tests marked ``entra_emulator_only`` are skipped, with the reason, unless the run uses the
    emulator: one suite then runs offline and against a real tenant."""
    entra = config.stash[_STATE].config
    if entra is not None and entra.mode != "emulator":
        skip = pytest.mark.skip(reason=f"entracert: entra_emulator_only, and this run is "
                                f"{entra.mode} (the emulator runs with --entra-mode=emulator or "
                                "--entra-emulator-state=DIR)")
        for item in items:
            if item.get_closest_marker("entra_emulator_only") is not None:
                item.add_marker(skip)
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
    state = config.stash[_STATE]
    entra = state.config
    if entra is None:
        return None
    if state.header:
        return state.header
    if entra.mode == "off" and entra.requested_mode == "off":
        return entra.skip_reason
    if not entra.enabled:  # one short line: most suites that never ask for a token see it
        return "entracert: no identity configured; tests that need a token are skipped"
    signs_with = f"thumbprint {entra.thumbprint or 'unknown'}"
    if entra.profile is not None and entra.profile.credential.kind == "client-secret":
        signs_with = entra.profile.credential.describe()
    return (f"entracert: mode {entra.mode}, tenant {entra.tenant}, client id {entra.client_id}, "
            f"{signs_with}")


class _RunHooks:
    """Hooks that need this run's state (pytest passes them no ``config``), registered by
    ``_State._hook_in`` when there is an emulator or a token scrubber."""

    def __init__(self, state):
        self._state = state

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report):
        """Scrub issued tokens out of the report before any reporter (or xdist) sees it."""
        if self._state._redactor is not None:
            self._state._redactor.scrub_report(report)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_sessionfinish(self, session):
        """An xdist worker hands the tokens it issued to the controller, so that what the
        controller's conftests and plugins write in the terminal summary is scrubbed too. Once
        pytest has written the JUnit XML, the file is scrubbed as a whole: some values reach it
        without a report (``record_testsuite_property``, ``record_xml_attribute``)."""
        config = session.config
        output = getattr(config, "workeroutput", None)
        if output is not None and self._state._redactor:
            output[_WORKER_KEY] = self._state._redactor.secrets()
        yield
        xml_path = config.getoption("xmlpath", None)  # --junitxml, as pytest resolves it
        if xml_path and self._state._redactor and not hasattr(config, "workerinput"):
            xml_path = os.path.expanduser(os.path.expandvars(xml_path))
            self._state._redactor.scrub_xml_file(config.invocation_params.dir / xml_path)

    @pytest.hookimpl(tryfirst=True)
    def pytest_warning_recorded(self, warning_message):
        """Scrub issued tokens out of a warning before the warnings summary (or xdist) sees it."""
        if self._state._redactor is not None:
            self._state._redactor.scrub_warning(warning_message)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item):
        if self._state.emulator is not None:
            self._state.emulator.begin_test()

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_teardown(self, item):
        """After the test's fixtures are gone: drop the faults it added and its log view."""
        yield
        if self._state.emulator is not None:
            self._state.emulator.end_test()

    def pytest_terminal_summary(self, terminalreporter):
        if self._state.shared is not None and self._state.shared.emulator is not None:
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
    emulator or off), ``enabled``/``skip_reason``/``error``, ``profile`` (tenant, client id,
    certificate, authority), default ``scopes``, ``cache_dir`` and ``refresh_skew``; the
    identity is resolved (its certificate loaded) when this fixture is first used. Override it in a
    ``conftest.py`` to change what the other entra fixtures use (``pytest --fixtures -v`` shows
    how).

    For example::

        @pytest.fixture(scope="session")
        def entra_config(entra_config):
            return dataclasses.replace(entra_config, scopes=("api://my-api/.default",))
    """
    return pytestconfig.stash[_STATE].resolved()


@pytest.fixture(scope="session")
def entra_token_factory(pytestconfig, entra_config):
    """``entra_token_factory(scopes=None, *, profile=None, client_id=None, certificate=None,
    tenant=None, force=False) -> EntraToken``, for the configured identity or another one:
    ``profile`` names an ``az entracert`` profile or is an application from
    ``entra_emulator.create_application(...)`` or ``ensure_application(...)`` made with
    ``with_certificate=True``; ``client_id`` with
    ``certificate`` (PFX or PEM path) sign in as that application. Tokens come
    from the shared, locked cache: one token request per identity and scopes for the whole run,
    xdist workers included, and still-valid tokens of earlier runs are reused (``force=True``
    asks the authority anyway). Skips the test when no identity is configured (``--entra-mode
    auto``); fails it with the one-line reason when the identity is configured but unusable, or
    the token cannot be had (asked for once per run, until ``entra_emulator`` changes).
    """
    from .token import EntraTokenFactory

    if entra_config.error:
        pytest.fail(entra_config.error, pytrace=False)
    if not entra_config.enabled:
        pytest.skip(entra_config.skip_reason)
    state = pytestconfig.stash[_STATE]
    return EntraTokenFactory(entra_config, redactor=state.redactor, memo=state.memo)


@pytest.fixture(scope="session")
def entra_credential(entra_token_factory):
    """An azure-core ``TokenCredential`` for the configured identity: pass it to any Azure SDK
    client (``SomeClient(url, credential=entra_credential)``). Backed by the shared token cache;
    ``get_token(*scopes, claims=None, tenant_id=None)`` and ``get_token_info(*scopes,
    options=None)``; a ``claims`` challenge bypasses the cache, another tenant is refused."""
    from .token import EntraCredential

    return EntraCredential(entra_token_factory)


@pytest.fixture(scope="session")
def entra_credential_factory(entra_token_factory):
    """``entra_credential_factory(profile=None, *, client_id=None, certificate=None,
    tenant=None) -> EntraCredential``: an azure-core ``TokenCredential`` for another identity,
    named as for ``entra_token_factory`` (an ``az entracert`` profile, an ``entra_emulator``
    application made ``with_certificate=True``, or
    ``client_id`` with ``certificate``), sharing the token cache; for a test that signs in as a
    second application."""
    from .token import EntraCredential

    return lambda profile=None, **identity: EntraCredential(entra_token_factory,
                                                            profile=profile, **identity)


@pytest.fixture(scope="session")
def entra_async_credential(entra_credential):
    """An azure-core ``AsyncTokenCredential`` for the configured identity, for the SDKs' ``aio``
    clients and ``AsyncBearerTokenCredentialPolicy``: ``await get_token(*scopes)``, ``await
    get_token_info(*scopes, options=None)``, ``await close()``, ``async with``. The same
    identity, cache and errors as ``entra_credential``; the blocking token request runs in the
    event loop's default executor."""
    from .token import EntraAsyncCredential

    return EntraAsyncCredential(entra_credential)


@pytest.fixture
def entra_session(request, entra_token_factory):
    """A ``requests.Session`` whose auth sends ``Authorization: Bearer <token>`` for the scopes
    and profile of the nearest ``@pytest.mark.entra(...)`` marker (as ``entra_token``), asked
    for before every request so a token near expiry is replaced; for REST APIs without an
    Azure SDK. Closed after the test; set ``entra_session.verify`` to trust a private CA (e.g.
    ``entra_emulator.ca_bundle``): unlike a plain session's, it wins over
    ``REQUESTS_CA_BUNDLE``."""
    from .session import EntraSession

    scopes, profile = _marker_request(request)
    with EntraSession(entra_token_factory, scopes, profile=profile) as session:
        yield session


@pytest.fixture
def entra_token(request, entra_token_factory):
    """An ``EntraToken`` for this test (``.value``, ``.headers()``, ``.claims``, ``.expires_on``;
    its ``repr`` never shows the token), for the scopes and profile of the nearest
    ``@pytest.mark.entra(scopes=[...], profile=...)`` marker, else ``--entra-scope``, else the
    identity's default. Checked before each test: a token within ``entra_refresh_skew`` seconds
    of expiry is replaced, so a long run never hands out an expired one.
    """
    scopes, profile = _marker_request(request)
    return entra_token_factory(scopes, profile=profile)


def _marker_request(request):
    """The scopes and profile the test's nearest ``entra`` marker asks for."""
    error = _marker_error(request.node)
    if error:
        pytest.fail(error, pytrace=False)
    marker = request.node.get_closest_marker("entra")
    kwargs = dict(marker.kwargs) if marker else {}
    if marker and marker.args and "scopes" not in kwargs:
        kwargs["scopes"] = marker.args[0]
    return kwargs.get("scopes"), kwargs.get("profile")


@pytest.fixture(scope="session")
def entra_emulator(pytestconfig, tmp_path_factory):
    """The local Entra ID + Microsoft Graph emulator (opt-in), an ``EntraEmulator`` with
    ``authority_host``, ``tenant_id``, ``client_id``, ``certificate`` (PEM path), ``ca_bundle``,
    ``jwks_url``, ``token_endpoint``, ``create_application(...)``, ``grant_app_role(...)``,
    ``requests_log()``/``token_requests()``/``clear_log()``, ``add_fault(...)`` and
    ``verify_access_token(token)``. In ``--entra-mode emulator`` it is the run's one emulator,
    shared by all xdist workers, whose application the token fixtures sign in as; in other modes
    a private one is started for this process (or, with ``--entra-emulator-state=DIR``, the one
    running there is used). Use ``ensure_application(name, ..., with_certificate=True)`` in
    session fixtures (one application and one key for every worker and run), or seed it
    in the ``pytest_entracert_emulator_setup(emulator)`` hook. Faults a test adds and its
    ``clear_log()`` end with the test.
    """
    from .emulator import AttachedEmulator, EntraEmulator, SharedEmulator

    state = pytestconfig.stash[_STATE]
    if state.config.requested_mode == "off":
        pytest.skip(state.config.skip_reason)
    own = None
    if state.emulator is None and state.emulator_info is not None:  # an xdist worker
        state.emulator = EntraEmulator(state.emulator_info)
        state.emulator.begin_test()  # made inside a test: its faults end with it too
    elif state.emulator is None:
        from azext_entracert.core.errors import EntraCertError

        attach_to = state.settings["emulator_state"][0]
        try:
            own = (AttachedEmulator(attach_to) if attach_to
                   else SharedEmulator(tmp_path_factory.mktemp("entra-emulator")))
        except EntraCertError as exc:
            pytest.fail(f"entracert: {exc}", pytrace=False)
        state.emulator = EntraEmulator(own.info, own.emulator)
        pytestconfig.hook.pytest_entracert_emulator_setup(emulator=state.emulator)
        state.emulator.begin_test()
    caches = {state.emulator.info["cache_dir"], state.config.cache_dir} - {None}
    state.emulator.on_change = lambda client_ids: state.memo.changed(client_ids, caches)
    try:
        yield state.emulator
    finally:
        if own is not None:
            state.emulator = None
            own.close()
