"""Settings of the plugin: where each comes from, and the frozen ``EntraConfig`` tests receive.

Every setting is looked up on the command line, then in azure-identity's environment variables,
then in the ini file, then takes its default (CLI > env > ini > default). Resolving the *names*
is free; turning them into an identity (reading the profile store, loading the certificate)
happens once per session, and only when a token may be needed.

The certificate password is deliberately not a setting: it comes from
``AZURE_CLIENT_CERTIFICATE_PASSWORD`` (or the profile's own password source), never from a
command line that lands in shell history or CI logs. Likewise a client secret, for development
and testing: ``AZURE_CLIENT_SECRET``, as azure-identity names it, used with the tenant and client
id when no certificate is configured.
"""
import dataclasses
import os
from pathlib import Path
from typing import NamedTuple

MODES = ("auto", "live", "emulator", "off")
DEFAULT_REFRESH_SKEW = 300  # seconds; MSAL, too, treats a token with under 5 minutes left as gone
MAX_REFRESH_SKEW = 3000  # an Entra token lives 60-90 minutes: a larger skew refetches every test
EXPLICIT_PROFILE = "pytest"  # the name of the identity made from tenant, client id and certificate
LEVELS = {"cli": 3, "env": 2, "ini": 1, "default": 0}


class Setting(NamedTuple):  # not a dataclass: making one costs every pytest run a millisecond
    name: str
    help: str
    env: str = None
    multiple: bool = False
    flag: bool = False
    choices: tuple = None
    default: object = None
    path: bool = False  # an ini value is relative to the ini file's folder, a CLI/env one to cwd

    @property
    def option(self):
        return "--entra-" + self.name.replace("_", "-")

    @property
    def ini(self):
        return f"entra_{self.name}"


SETTINGS = (
    Setting("mode", "auto: live when an identity is configured, else skip the tests that need a "
            "token; live: require an identity; emulator: run the local Entra ID emulator; "
            "off: skip every entra fixture (default auto).", choices=MODES, default="auto"),
    Setting("profile", "name of an 'az entracert' profile to take the identity from."),
    Setting("tenant", "directory (tenant) id or domain.", env="AZURE_TENANT_ID"),
    Setting("client_id", "application (client) id.", env="AZURE_CLIENT_ID"),
    Setting("cert", "PFX or PEM file with the certificate and its private key.",
            env="AZURE_CLIENT_CERTIFICATE_PATH", path=True),
    Setting("pfx_base64_env", "name of an environment variable holding the base64 of a PFX "
            "(instead of --entra-cert; the usual CI secret)."),
    Setting("authority", "authority host, e.g. https://login.microsoftonline.us.",
            env="AZURE_AUTHORITY_HOST"),
    Setting("ca_bundle", "PEM bundle trusted for the authority (private authorities only).",
            env="ENTRACERT_CA_BUNDLE", path=True),
    Setting("scope", "default scope(s) of entra_token; repeat or separate with spaces.",
            multiple=True),
    Setting("require", "fail the session at start (usage error) when no identity is configured.",
            flag=True, default=False),
    Setting("emulator_state", "state dir of an emulator already running ('az entracert emulator "
            "start --state-dir=DIR'): attach to it instead of starting one; implies "
            "--entra-mode=emulator unless the mode is live, where entra_emulator uses it.",
            env="ENTRACERT_EMULATOR_STATE", path=True),
)
BY_NAME = {s.name: s for s in SETTINGS}


def add_options(parser):
    """The ``entra`` option group and the ini keys of the same names."""
    group = parser.getgroup("entra", "Entra ID tokens (entracert)")
    for setting in SETTINGS:
        env = f" Environment: {setting.env}." if setting.env else ""
        if setting.path:
            env += (f" Write {setting.option}=PATH: with a space, pytest takes PATH for a "
                    "test path when it looks for its ini file.")
        if setting.flag:
            group.addoption(setting.option, action="store_true", default=None,
                            dest=f"entra_{setting.name}", help=setting.help)
        else:
            group.addoption(setting.option, action="append" if setting.multiple else "store",
                            default=None, choices=setting.choices, dest=f"entra_{setting.name}",
                            metavar="PATH" if setting.path else setting.name.upper(),
                            help=setting.help + env)
        parser.addini(setting.ini, type="bool" if setting.flag else "string", default=None,
                      help=setting.help)
    parser.addini("entra_refresh_skew", type="string", default=None,
                  help=f"seconds before expiry at which entra_token fetches a new token "
                       f"(0 to {MAX_REFRESH_SKEW}, default {DEFAULT_REFRESH_SKEW}).")


def read_settings(config, environ=None):
    """``{name: (value, source)}`` for every setting, by precedence CLI > env > ini > default."""
    environ = os.environ if environ is None else environ
    resolved = {}
    for setting in SETTINGS:
        resolved[setting.name] = _lookup(config, setting, environ)
    mode = resolved["mode"][0]
    if mode not in MODES:
        import pytest

        raise pytest.UsageError(f"entracert: entra_mode '{mode}' is not one of {', '.join(MODES)}.")
    resolved["refresh_skew"] = (_refresh_skew(config.getini("entra_refresh_skew")), "ini")
    for option in _space_form_options(config):
        import pytest

        config.issue_config_time_warning(pytest.PytestConfigWarning(
            f"entracert: {option} was given as '{option} PATH': pytest reads that PATH as a test "
            "path when it looks for its ini file and rootdir, so it may have missed yours. "
            f"Write {option}=PATH."), stacklevel=2)
    return resolved


def _refresh_skew(text):
    try:
        skew = DEFAULT_REFRESH_SKEW if text in (None, "") else int(text)
    except ValueError:
        skew = None
    if skew is None or not 0 <= skew <= MAX_REFRESH_SKEW:
        import pytest

        raise pytest.UsageError(
            f"entracert: entra_refresh_skew '{text}' is not a whole number of seconds from 0 to "
            f"{MAX_REFRESH_SKEW} (a token lives about 3600 s; the default is "
            f"{DEFAULT_REFRESH_SKEW}).")
    return skew


def _space_form_options(config):
    """Path options given as ``--entra-cert PATH``: pytest looks for its ini file and rootdir
    before plugins add their options, so it takes that PATH for a test path and may anchor the
    rootdir beside the certificate, missing the project's ini file. ``--entra-cert=PATH`` is safe.
    """
    args = [str(arg) for arg in config.invocation_params.args]
    return [setting.option for setting in SETTINGS if setting.path
            for option, value in zip(args, args[1:], strict=False)
            if option == setting.option and value == config.getoption(f"entra_{setting.name}")]


def _lookup(config, setting, environ):
    value = config.getoption(f"entra_{setting.name}")
    if value not in (None, []):
        return _normalize(setting, value), "cli"
    if setting.env and environ.get(setting.env, "").strip():
        return _normalize(setting, environ[setting.env].strip()), "env"
    value = config.getini(setting.ini)
    if value not in (None, "", []):
        value = _normalize(setting, value)
        if setting.path:  # as the ini file means it, wherever pytest is started from
            folder = config.inipath.parent if config.inipath else config.rootpath
            value = str(folder / Path(value).expanduser())
        return value, "ini"
    return setting.default if not setting.multiple else (), "default"


def _normalize(setting, value):
    if setting.multiple:
        values = value if isinstance(value, list) else [value]
        return tuple(scope for text in values for scope in str(text).split())
    if setting.flag:
        return bool(value)
    return value.strip() if isinstance(value, str) else value


@dataclasses.dataclass(frozen=True)
class EntraConfig:
    """The resolved settings of one run; what ``entra_config`` returns.

    ``mode`` is the effective mode: ``live``, ``emulator`` or ``off`` (``auto`` resolves to
    ``live`` or ``off``). When ``enabled`` is false, ``skip_reason`` says why, and the token
    fixtures skip with it; or ``error`` does, when the identity is configured but cannot be used
    (a certificate file that is not there, a PFX without its password), and they fail with it.
    ``profile`` is the core profile tokens are asked for (None until the first fixture that
    needs it resolves it); ``scopes`` the default scopes; ``cache_dir`` holds the token cache
    shared by xdist workers and later runs.
    Override the fixture in a ``conftest.py`` to change it, e.g.
    ``return dataclasses.replace(entra_config, scopes=("api://my-api/.default",))``.
    """

    mode: str
    requested_mode: str
    enabled: bool
    skip_reason: str = None
    profile: object = None
    scopes: tuple = ()
    cache_dir: str = None
    refresh_skew: int = DEFAULT_REFRESH_SKEW
    require: bool = False
    sources: tuple = ()  # (setting, source) pairs: where each value came from
    error: str = None

    @property
    def tenant(self):
        return self.profile.tenant if self.profile else None

    @property
    def client_id(self):
        return self.profile.client_id if self.profile else None

    @property
    def thumbprint(self):
        return self.profile.thumbprint if self.profile else None

    def source_of(self, name):
        return dict(self.sources).get(name, "default")

    def to_dict(self):
        """JSON-ready form, handed to xdist workers."""
        data = dataclasses.asdict(self)
        data["profile"] = self.profile.to_dict() if self.profile else None
        data["scopes"] = list(self.scopes)
        data["sources"] = [list(pair) for pair in self.sources]
        return data

    @classmethod
    def from_dict(cls, data):
        data = dict(data)
        if data.get("profile"):
            from azext_entracert.core.profiles import Profile

            data["profile"] = Profile.from_dict(data["profile"])
        data["scopes"] = tuple(data.get("scopes") or ())
        data["sources"] = tuple(tuple(pair) for pair in data.get("sources") or ())
        return cls(**data)


NOT_CONFIGURED = ("no Entra ID identity is configured: set AZURE_TENANT_ID, AZURE_CLIENT_ID and "
                  "AZURE_CLIENT_CERTIFICATE_PATH (or --entra-tenant/--entra-client-id/"
                  "--entra-cert=PATH), pass --entra-profile=NAME, or use --entra-mode=emulator")


class NotConfigured(Exception):
    """No usable identity; ``str()`` says what is missing and how to give it."""


class Incomplete(NotConfigured):
    """Some of the identity's settings are given, not all: ``what`` is missing."""

    def __init__(self, what):
        super().__init__(f"the Entra ID identity is incomplete: {what}")
        self.what = what


PASSWORD_ENV = "AZURE_CLIENT_CERTIFICATE_PASSWORD"
SECRET_ENV = "AZURE_CLIENT_SECRET"


class Outline(NamedTuple):
    """The identity the settings name, known without importing the core or reading a file:
    ``words`` for the report header, and ``problem``, what already shows it cannot work."""

    words: str
    problem: str = None


def outline(settings, environ=None):
    """The ``Outline`` of the identity the settings name, or raise ``NotConfigured``
    (``Incomplete`` when some settings are given). Cheap: a suite that never asks for a token
    pays no more for a configured identity than for none."""
    environ = os.environ if environ is None else environ
    explicit = _explicit(settings)
    name, name_source = settings["profile"]
    if name and LEVELS[name_source] >= max((LEVELS[s] for _, s in explicit.values()), default=0):
        return Outline(f"az entracert profile {name}")
    if explicit:
        missing = [BY_NAME[n].option + (f" / {BY_NAME[n].env}" if BY_NAME[n].env else "")
                   for n in ("tenant", "client_id") if n not in explicit]
        if not (_certificate_given(explicit) or environ.get(SECRET_ENV)):
            missing.append("--entra-cert / AZURE_CLIENT_CERTIFICATE_PATH")
        if missing:
            raise Incomplete("missing " + ", ".join(missing))
        pfx, variable = settings["cert"][0], settings["pfx_base64_env"][0]
        where = (f"certificate {pfx}" if pfx else f"PFX in ${variable}" if variable
                 else f"client secret in ${SECRET_ENV}")
        problem = None
        if pfx and not Path(pfx).is_file():
            problem = f"the certificate file '{pfx}' does not exist"
        elif variable and not environ.get(variable, "").strip():
            problem = f"the variable {variable} that should hold the PFX is empty"
        elif ((variable or (pfx and Path(pfx).suffix.lower() in (".pfx", ".p12")))
              and not environ.get(PASSWORD_ENV)):
            problem = f"{PASSWORD_ENV} is not set for the PFX (needed unless it has no password)"
        return Outline(f"tenant {settings['tenant'][0]}, client id {settings['client_id'][0]}, "
                       f"{where}", problem)
    if _profile_store(environ).exists():
        return Outline("the default az entracert profile")
    raise NotConfigured(NOT_CONFIGURED)


def _certificate_given(explicit):
    return "cert" in explicit or "pfx_base64_env" in explicit


def _explicit(settings):
    return {n: settings[n] for n in ("tenant", "client_id", "cert", "pfx_base64_env")
            if settings[n][0]}


def resolve_identity(settings, environ=None):
    """The core ``Profile`` the settings describe (live modes), or raise ``NotConfigured``.

    A profile named at a higher (or equal) precedence level than the explicit tenant/client
    id/certificate wins; otherwise the explicit values must be complete; with neither, the
    default ``az entracert`` profile is used if there is one. The certificate is loaded here:
    at session start with ``--entra-require`` or ``--entra-mode=live``, else when a test first
    needs a token.
    """
    environ = os.environ if environ is None else environ
    outline(settings, environ)  # raises NotConfigured, deciding without importing the core
    explicit = _explicit(settings)
    from azext_entracert.core import clouds, credentials, profiles

    explicit_level = max((LEVELS[src] for _, src in explicit.values()), default=0)
    name, name_source = settings["profile"]
    store = profiles.ProfileStore()
    if name and LEVELS[name_source] >= explicit_level:
        profile = store.get(name)
    elif explicit:
        profile = profiles.new_profile(
            EXPLICIT_PROFILE, tenant=settings["tenant"][0], client_id=settings["client_id"][0],
            credential=None if _certificate_given(explicit)
            else credentials.ClientSecret(client_secret_env=SECRET_ENV),
            certificate=settings["cert"][0] if "cert" in explicit else None,
            pfx_base64_env=settings["pfx_base64_env"][0] if "pfx_base64_env" in explicit else None,
            # named even when unset: a PFX that needs it then says which variable to set
            password_env=PASSWORD_ENV,
            authority_host=_origin(settings["authority"][0]), ca_bundle=settings["ca_bundle"][0],
            send_chain=environ.get("AZURE_CLIENT_SEND_CERTIFICATE_CHAIN", "").lower()
            in ("1", "true"), check_name_rules=False)
        return profile
    elif store.path.exists() and store.default_name():
        profile = store.get(store.default_name())
    else:
        raise NotConfigured(NOT_CONFIGURED)
    changes = {}
    if settings["authority"][0]:
        changes["authority_host"], changes["graph_endpoint"] = clouds.resolve(
            authority_host=_origin(settings["authority"][0]))
    if settings["ca_bundle"][0]:
        changes["ca_bundle"] = str(settings["ca_bundle"][0])
    return dataclasses.replace(profile, **changes) if changes else profile


def _profile_store(environ):
    """Where ``core.profiles.config_dir()`` keeps profiles.json, known without importing it."""
    from pathlib import Path

    base = environ.get("AZURE_CONFIG_DIR") or Path.home() / ".azure"
    return Path(base).expanduser() / "entracert" / "profiles.json"


def _origin(authority):
    """azure-identity accepts a bare host in AZURE_AUTHORITY_HOST; the core wants a URL."""
    if authority and "://" not in authority:
        return f"https://{authority}"
    return authority.rstrip("/") if authority else None
