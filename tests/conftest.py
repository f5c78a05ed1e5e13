"""Shared fixtures: one emulator per test session, and applications with fresh certificates.

RSA key generation is the slow part of most tests, so keys come from a session-wide pool: ask for
``rsa_keys[i]`` to get the same key again, or a new index for a key no other test signs with.
"""
import dataclasses
import datetime
import os

import pytest

# The plugin tests run real pytest sessions; pytest only honours this in the top-level conftest.
pytest_plugins = ["pytester"]


@dataclasses.dataclass
class TestApp:
    """An application registered in the emulator, with the certificate and key it signs with."""

    __test__ = False  # not a test class, despite the name

    app: dict
    certificate: object
    private_key: object = dataclasses.field(repr=False)
    pem_path: str = ""  # key + certificate, mode 0600

    @property
    def app_id(self):
        return self.app["appId"]

    @property
    def object_id(self):
        return self.app["id"]

    @property
    def pem(self):
        with open(self.pem_path, encoding="ascii") as handle:
            return handle.read()


class KeyPool:
    """RSA keys made on first use and kept for the session."""

    def __init__(self):
        self._keys = {}

    def __getitem__(self, index):
        from azext_entracert.core.certgen import new_rsa_key

        if index not in self._keys:
            self._keys[index] = new_rsa_key(2048)
        return self._keys[index]


@pytest.fixture(scope="session")
def rsa_keys():
    """Session-wide pool of 2048-bit RSA keys, indexed: ``rsa_keys[0]``, ``rsa_keys[1]``..."""
    return KeyPool()


def make_certificate(key, common_name="entracert-test", *, days=30, not_before=None, issuer=None,
                     issuer_key=None, hash_name="sha256"):
    """A client certificate for ``key`` (self-signed unless ``issuer``/``issuer_key`` given)."""
    from azext_entracert.core.certgen import build_certificate, parse_subject

    return build_certificate(subject=parse_subject(f"CN={common_name}"),
                             public_key=key.public_key(), signing_key=issuer_key or key,
                             issuer=issuer, days=days, not_before=not_before, hash_name=hash_name)


def pem_of(key, certificate):
    """PEM text with the unencrypted private key followed by the certificate."""
    from cryptography.hazmat.primitives import serialization

    return (key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption())
            + certificate.public_bytes(serialization.Encoding.PEM)).decode("ascii")


@pytest.fixture(scope="session")
def emulator(tmp_path_factory):
    """A running ``Emulator`` (TLS on 127.0.0.1, fresh state dir) shared by the whole session.

    Tests must not assume an empty request log or tenant: clear the log (``clear_log()``) and
    create their own applications."""
    from azext_entracert.emulator import Emulator

    with Emulator(tmp_path_factory.mktemp("emulator-state")) as emu:
        yield emu


@pytest.fixture(scope="session")
def attacker(tmp_path_factory):
    """A second emulator, with its own CA, tenant and signing key: anyone who runs a JWKS
    endpoint and mints tokens naming it (``mint_token(attacker, ...)``)."""
    from azext_entracert.emulator import Emulator

    with Emulator(tmp_path_factory.mktemp("attacker-state")) as emu:
        yield emu


def mint_token(emulator, *, version=2, **claims):
    """An access token signed with ``emulator``'s own signing key (the key its JWKS publishes),
    shaped like the ones it issues (ENTRA-FACTS 3.3); ``claims`` override or, as None, drop."""
    import time
    import uuid

    import jwt

    now, tid = int(time.time()), emulator.tenant_id
    values = {"aud": "https://graph.microsoft.com" if version == 1 else str(uuid.uuid4()),
              "iss": f"https://sts.windows.net/{tid}/" if version == 1
              else f"{emulator.authority_host}/{tid}/v2.0",
              "iat": now, "nbf": now, "exp": now + 3600, "tid": tid, "idtyp": "app",
              "oid": str(uuid.uuid4()), "ver": "1.0" if version == 1 else "2.0",
              "roles": ["Application.ReadWrite.All"]}
    values.update(claims)
    return jwt.encode({k: v for k, v in values.items() if v is not None},
                      emulator.pki.signing_key, algorithm="RS256",
                      headers={"typ": "JWT", "kid": emulator.pki.kid})


@pytest.fixture(scope="session")
def make_app(emulator, rsa_keys, tmp_path_factory):
    """Factory: ``make_app(name, key_index=0, **create_application_kwargs) -> TestApp``.

    Registers an application with a new certificate over pool key ``key_index`` and writes its
    key + certificate PEM (0600) to a temporary file."""
    from azext_entracert.core.fileio import PRIVATE, atomic_write

    folder = tmp_path_factory.mktemp("apps")
    counter = iter(range(1_000_000))

    def make(name="test-app", *, key_index=0, days=30, not_before=None, **kwargs):
        key = rsa_keys[key_index]
        certificate = make_certificate(key, name, days=days, not_before=not_before)
        app = emulator.create_application(name, certificates=[certificate], **kwargs)
        path = folder / f"{name}-{next(counter)}.pem"
        atomic_write(path, pem_of(key, certificate).encode("ascii"), mode=PRIVATE)
        return TestApp(app=app, certificate=certificate, private_key=key, pem_path=str(path))

    return make


@pytest.fixture
def trust_emulator(monkeypatch, emulator):
    """Make requests-based clients (MSAL, azure-identity) trust the emulator's CA in this test."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", emulator.ca_bundle)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    return emulator.ca_bundle


def utc(offset_seconds=0):
    """Now plus ``offset_seconds``, timezone-aware UTC."""
    return datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=offset_seconds)


def az_environment(emulator, config_dir, *, base=None):
    """Environment for the real az against the emulator: its own config dir, trusting only the
    emulator's CA (ENTRA-FACTS 0.3) and without instance discovery (0.2)."""
    env = {k: v for k, v in (os.environ if base is None else base).items()
           if k not in ("CURL_CA_BUNDLE", "SSL_CERT_FILE")}
    env.update(AZURE_CONFIG_DIR=str(config_dir), REQUESTS_CA_BUNDLE=emulator.ca_bundle,
               AZURE_CORE_INSTANCE_DISCOVERY="false", AZURE_CORE_COLLECT_TELEMETRY="false",
               AZURE_CORE_NO_COLOR="true")
    return env


def sign_in_az(run, emulator, *, client_id=None, certificate=None, tenant=None, cloud="Emu",
               subscriptions=False):
    """Make the emulator az's active cloud and log in as a service principal, the way ENTRA-FACTS
    0.8 found the real az 2.91 works (default: the emulator's admin). ``run(*args)`` runs az.

    The cloud names the emulator's own Resource Manager. With ``subscriptions`` the login is a
    plain one that lists them there (the emulator needs one); else it skips that discovery."""
    origin = emulator.authority_host
    run("cloud", "register", "-n", cloud, "--endpoint-active-directory", origin,
        "--endpoint-active-directory-resource-id", "https://management.core.windows.net/",
        "--endpoint-resource-manager", emulator.resource_manager_endpoint + "/",
        "--endpoint-microsoft-graph-resource-id", origin + "/", "--skip-endpoint-discovery")
    run("cloud", "set", "-n", cloud)
    return run("login", "--service-principal", "-u", client_id or emulator.admin["client_id"],
               "--certificate", certificate or emulator.admin["certificate"],
               "--tenant", tenant or emulator.tenant_id,
               *(() if subscriptions else ("--skip-subscription-discovery",)))


# --- SoftHSM2: a real PKCS#11 token, for tests/core and tests/az alike ----------------------------

HSM_TOKEN, HSM_PIN, HSM_SO_PIN = "entracert", "1234", "5678"
HSM_MODULES = ("/usr/lib/softhsm/libsofthsm2.so",
               "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
               "/usr/local/lib/softhsm/libsofthsm2.so")


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory):
    """Path of the SoftHSM2 module, with a fresh token ``entracert`` (PIN 1234) in a temporary
    token directory that ``SOFTHSM2_CONF`` points at for the session (pass it on to an az)."""
    import shutil
    import subprocess

    pytest.importorskip("pkcs11", reason="python-pkcs11 is not installed (pip install -e '.[dev]')")
    module = next((m for m in HSM_MODULES if os.path.isfile(m)), None)
    util = shutil.which("softhsm2-util")
    if module is None or util is None:
        pytest.skip("SoftHSM2 is not installed (apt-get install softhsm2; `make test` does this)")
    folder = tmp_path_factory.mktemp("softhsm")
    (folder / "tokens").mkdir()
    conf = folder / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {folder / 'tokens'}\nobjectstore.backend = file\n"
                    "log.level = ERROR\n")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SOFTHSM2_CONF", str(conf))
        subprocess.run([util, "--init-token", "--free", "--label", HSM_TOKEN, "--pin", HSM_PIN,
                        "--so-pin", HSM_SO_PIN], check=True, capture_output=True)
        yield module


def key_on_token(emulator, module, name, *, pin_env):
    """A new RSA key pair labelled ``<name>-k<8 hex digits>`` on the SoftHSM2 token (its PIN in
    the variable ``pin_env``, which the caller sets), its self-signed certificate registered on
    an application of its own: ``(Pkcs11Key, application)``."""
    import uuid

    from azext_entracert.core import certgen, pkcs11
    from azext_entracert.core.credentials import Pkcs11Key

    label = f"{name}-k{uuid.uuid4().hex[:8]}"
    source = Pkcs11Key(pkcs11_module=module, pkcs11_token=HSM_TOKEN, pkcs11_key=label,
                       pin_env=pin_env)
    certificate = pkcs11.create_on_token(source, certgen.parse_subject(f"CN={label}"), days=30)
    return source, emulator.create_application(label, certificates=[certificate])
