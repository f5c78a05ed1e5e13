"""``--entra-profile NAME`` (the ini key, the default profile) with every credential kind a
profile can hold: a certificate file (with a separate key file, or a PFX), a base64 PFX in a
variable, a stored certificate by thumbprint, a key on a PKCS#11 token (SoftHSM2), a client secret
from a variable or a file. Each real inner run gets a token from the emulator (xdist workers too),
and its report (terminal and JUnit XML) holds no password, PIN, secret or token. A bad input of
each kind, and a profile made with a password or PIN typed at a prompt (pytest never prompts),
fails the tests that need a token with one line, never the run."""
import json
import os
import secrets
import subprocess
import sys

import pytest

PIN_ENV = "ENTRA_TEST_HSM_PIN"
HSM_LABEL = "entracert-plugin"

INNER = '''
import pathlib


def test_signs_in(entra_token, entra_credential, entra_config):
    assert entra_config.profile.name == "{name}"
    assert entra_token.claims["appid"] == "{client_id}"
    assert entra_token.claims["appidacr"] == "{acr}"  # 1: a client secret, 2: a certificate
    access = entra_credential.get_token(*entra_token.scopes)
    assert access.token == entra_token.value
    pathlib.Path("issued.token").write_text(access.token)  # for the leak check, never printed


def test_needs_no_token():
    pass
'''


@pytest.fixture(scope="module")
def hsm(softhsm, tmp_path_factory):
    """A SoftHSM2 token of this module's own, in a folder of its own, with a PIN no report could
    contain by chance (the shared token's is 1234). Only subprocesses open it: a process loads
    SoftHSM2's configuration once, and this one may hold the shared token's."""
    folder = tmp_path_factory.mktemp("plugin-hsm")
    (folder / "tokens").mkdir()
    conf = folder / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {folder / 'tokens'}\nobjectstore.backend = file\n"
                    "log.level = ERROR\n")
    pin = "pin-" + secrets.token_hex(8)
    subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", HSM_LABEL, "--pin", pin,
                    "--so-pin", "so-" + secrets.token_hex(8)], check=True, capture_output=True,
                   env={**os.environ, "SOFTHSM2_CONF": str(conf)})
    return {"module": softhsm, "conf": str(conf), "pin": pin}


# Creates a key pair on the token, a certificate for it, and two profiles of it: one reading the
# PIN from a variable, one made with the PIN typed at a prompt (so the profile names no source).
HSM_SETUP = '''
import json, os, sys
from cryptography.hazmat.primitives.serialization import Encoding
from azext_entracert.core import certgen, credentials, pkcs11, profiles

args = json.loads(sys.argv[1])
source = credentials.Pkcs11Key(pkcs11_module=args["module"], pkcs11_token=args["token"],
                               pkcs11_key=args["key"], pin_env=args["pin_env"])
certificate = pkcs11.create_on_token(source, certgen.parse_subject("CN=" + args["key"]))
store = profiles.ProfileStore()
for name, credential, prompt in (
        (args["key"], source, None),
        (args["key"] + "-prompt", credentials.Pkcs11Key(
            pkcs11_module=args["module"], pkcs11_token=args["token"], pkcs11_key=args["key"]),
         lambda text: os.environ[args["pin_env"]])):
    store.add(profiles.new_profile(name, tenant=args["tenant"], client_id=args["client_id"],
                                   credential=credential, prompt=prompt,
                                   authority_host=args["authority"], ca_bundle=args["ca"]))
print(certificate.public_bytes(Encoding.PEM).decode("ascii"))
'''


class Kinds:
    """Makes an emulator application and a profile of one kind for it; sets the variables the
    profile reads. Each maker returns what the inner run must find and the secrets it must not."""

    def __init__(self, request, emulator, make_app, monkeypatch, tmp_path):
        self.request, self.emulator, self.make_app = request, emulator, make_app
        self.monkeypatch, self.tmp_path = monkeypatch, tmp_path

    def make(self, kind, name, *, default=False):
        app_id, credential, acr, hidden = getattr(self, kind.replace("-", "_"))(name)
        if credential is not None:  # None: the PKCS#11 set-up stored its profiles itself
            self.add(name, app_id, credential, default=default)
        return {"name": name, "client_id": app_id, "acr": acr, "secrets": hidden}

    def add(self, name, client_id, credential, *, default=False, prompt=None):
        from azext_entracert.core.profiles import ProfileStore, new_profile

        ProfileStore().add(new_profile(
            name, tenant=self.emulator.tenant_id, client_id=client_id, credential=credential,
            prompt=prompt, authority_host=self.emulator.authority_host,
            ca_bundle=self.emulator.ca_bundle), make_default=default)

    def _secret(self, variable):
        value = secrets.token_urlsafe(18)
        self.monkeypatch.setenv(variable, value)
        return value

    def key_file(self, name):
        from cryptography.hazmat.primitives.serialization import Encoding

        from azext_entracert.core import certgen, credentials
        from azext_entracert.core.fileio import PRIVATE, atomic_write

        app = self.make_app(name)
        password = self._secret("ENTRA_TEST_KEY_PASSWORD")
        cer, key = self.tmp_path / f"{name}.cer", self.tmp_path / f"{name}.key"
        cer.write_bytes(app.certificate.public_bytes(Encoding.PEM))
        atomic_write(key, certgen.key_pem(app.private_key, password.encode()), mode=PRIVATE)
        return app.app_id, credentials.CertificateFile(
            certificate=str(cer), key_file=str(key),
            key_password_env="ENTRA_TEST_KEY_PASSWORD"), "2", [password]

    def pfx_base64(self, name):
        import base64

        from azext_entracert.core import certgen, certs, credentials

        app = self.make_app(name)
        password = self._secret("ENTRA_TEST_PFX_PASSWORD")
        pfx = certgen.pfx_bytes(certs.load(app.pem_path), password.encode())
        self.monkeypatch.setenv("ENTRA_TEST_PFX", base64.b64encode(pfx).decode("ascii"))
        return app.app_id, credentials.PfxBase64Env(
            pfx_base64_env="ENTRA_TEST_PFX", password_env="ENTRA_TEST_PFX_PASSWORD"), "2", \
            [password]

    def pfx_file(self, name):
        """A PFX file, and two profiles of it: NAME with its password from a variable, and
        NAME-prompt made with the password typed at a prompt (so it names no source)."""
        from azext_entracert.core import certgen, certs, credentials
        from azext_entracert.core.fileio import PRIVATE, atomic_write

        app = self.make_app(name)
        password = self._secret("ENTRA_TEST_PFX_PASSWORD")
        pfx = self.tmp_path / f"{name}.pfx"
        atomic_write(pfx, certgen.pfx_bytes(certs.load(app.pem_path), password.encode()),
                     mode=PRIVATE)
        self.add(name + "-prompt", app.app_id, credentials.CertificateFile(certificate=str(pfx)),
                 prompt=lambda text: password)
        return app.app_id, credentials.CertificateFile(
            certificate=str(pfx), password_env="ENTRA_TEST_PFX_PASSWORD"), "2", [password]

    def store(self, name):
        from azext_entracert.core import certs, credentials
        from azext_entracert.core.store import CertificateStore

        app = self.make_app(name)
        password = self._secret("ENTRA_TEST_STORE_PASSWORD")
        entry, _ = CertificateStore().add(certs.load(app.pem_path), password=password.encode(),
                                          password_env="ENTRA_TEST_STORE_PASSWORD")
        return app.app_id, credentials.StoreThumbprint(store_thumbprint=entry.thumbprint), "2", \
            [password]

    def pkcs11(self, name):
        from cryptography import x509

        hsm = self.request.getfixturevalue("hsm")
        self.monkeypatch.setenv("SOFTHSM2_CONF", hsm["conf"])
        self.monkeypatch.setenv(PIN_ENV, hsm["pin"])
        app = self.emulator.create_application(name)
        setup = subprocess.run([sys.executable, "-c", HSM_SETUP, json.dumps(dict(
            module=hsm["module"], token=HSM_LABEL, key=name, pin_env=PIN_ENV,
            tenant=self.emulator.tenant_id, client_id=app["appId"],
            authority=self.emulator.authority_host, ca=self.emulator.ca_bundle))],
            capture_output=True, text=True, timeout=120)
        assert setup.returncode == 0, setup.stderr
        self.emulator.add_certificate(app["appId"], x509.load_pem_x509_certificate(
            setup.stdout.encode("ascii")))
        return app["appId"], None, "2", [hsm["pin"]]

    def secret_env(self, name):
        from azext_entracert.core import credentials

        app = self.make_app(name)
        secret = self.emulator.add_client_secret(app.app_id)
        self.monkeypatch.setenv("ENTRA_TEST_SECRET", secret)
        return app.app_id, credentials.ClientSecret(client_secret_env="ENTRA_TEST_SECRET"), "1", \
            [secret]

    def secret_file(self, name):
        from azext_entracert.core import credentials
        from azext_entracert.core.fileio import PRIVATE, atomic_write

        app = self.make_app(name)
        secret = self.emulator.add_client_secret(app.app_id)
        atomic_write(self.tmp_path / f"{name}.secret", secret.encode(), mode=PRIVATE)
        return app.app_id, credentials.ClientSecret(
            client_secret_file=str(self.tmp_path / f"{name}.secret")), "1", [secret]


@pytest.fixture
def kinds(request, emulator, make_app, monkeypatch, tmp_path):
    return Kinds(request, emulator, make_app, monkeypatch, tmp_path)


KINDS = ("key-file", "pfx-file", "pfx-base64", "store", "pkcs11", "secret-env", "secret-file")


def inner_run(pytester, expected, *args, workers=0):
    """The inner run (a real pytest process), its terminal output and JUnit XML."""
    pytester.makepyfile(INNER.format(**expected))
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-p", "no:randomly", "-v", "-rA",
        *(("-n", str(workers)) if workers else ("-p", "no:xdist")),
        "-o", "asyncio_default_fixture_loop_scope=function",
        "--junitxml=report.xml", *args, timeout=120)
    xml = pytester.path / "report.xml"
    report = result.stdout.str() + result.stderr.str() + (xml.read_text() if xml.exists() else "")
    return result, report


def assert_nothing_leaked(pytester, report, hidden):
    issued = pytester.path / "issued.token"
    for value in [*hidden, *([issued.read_text()] if issued.exists() else [])]:
        assert value not in report


@pytest.mark.parametrize("kind", KINDS)
def test_entra_profile_of_every_kind_gets_a_token_from_the_emulator(pytester, kinds, kind):
    expected = kinds.make(kind, f"plugin-{kind}")
    result, report = inner_run(pytester, expected, f"--entra-profile={expected['name']}")
    result.assert_outcomes(passed=2)
    assert f"az entracert profile {expected['name']}" in report  # the header
    assert (pytester.path / "issued.token").exists()
    assert_nothing_leaked(pytester, report, expected["secrets"])


@pytest.mark.parametrize("named_by", ("ini", "default"))
def test_the_profile_may_be_named_in_the_ini_file_or_be_the_default(pytester, kinds, named_by):
    expected = kinds.make("store", f"plugin-{named_by}", default=named_by == "default")
    if named_by == "ini":
        kinds.make("secret-env", "plugin-other", default=True)  # the ini key wins over it
        pytester.makeini(f"[pytest]\nentra_profile = {expected['name']}\n")
    result, report = inner_run(pytester, expected)
    result.assert_outcomes(passed=2)
    assert_nothing_leaked(pytester, report, expected["secrets"])


@pytest.mark.parametrize("kind", ("key-file", "pkcs11", "secret-file"))
def test_live_mode_hands_a_profile_of_any_kind_to_xdist_workers(pytester, kinds, kind):
    """``--entra-mode=live`` loads the profile in the controller (failing fast) and hands it to
    the workers, which sign in with it themselves."""
    expected = kinds.make(kind, f"plugin-live-{kind}")
    result, report = inner_run(pytester, expected, f"--entra-profile={expected['name']}",
                               "--entra-mode=live", workers=2)
    result.assert_outcomes(passed=2)
    assert_nothing_leaked(pytester, report, expected["secrets"])


PROMPTED = {  # what the one-line failure says for a profile made at a prompt
    "pkcs11": ("No PIN was given for the token", "--pin-env VAR"),
    "pfx-file": ("is protected by a password and none was given", "--password-env VAR"),
}


@pytest.mark.parametrize("kind", PROMPTED)
def test_a_profile_made_at_a_prompt_fails_at_once_under_pytest(pytester, kinds, kind):
    """A profile made with the PIN or password typed at a prompt names no source. A test run
    has no terminal to ask at: the tests that need a token fail at once with the fix, and the
    core's "or run in a terminal to be prompted" is not offered (pytest never prompts)."""
    expected = prompted_run_expectation(kinds, kind)
    result, report = inner_run(pytester, expected, f"--entra-profile={expected['name']}")
    result.assert_outcomes(passed=1, errors=1)
    assert result.duration < 60
    assert_one_line_failure(result, *PROMPTED[kind])
    assert "to be prompted" not in result.stdout.str()
    assert_nothing_leaked(pytester, report, expected["secrets"])


def prompted_run_expectation(kinds, kind):
    made = kinds.make(kind, f"plugin-prompted-{kind}")
    return {**made, "name": made["name"] + "-prompt"}


BAD_INPUTS = {  # kind: what its one-line failure says
    "store": "The certificate store holds no certificate with thumbprint",  # removed from it
    "pkcs11": "refused the PIN from environment variable " + PIN_ENV,  # a wrong PIN
    "secret-env": "The environment variable ENTRA_TEST_SECRET (the client secret) is not set",
}


@pytest.mark.parametrize("kind", BAD_INPUTS)
def test_a_bad_input_of_each_kind_fails_only_the_tests_that_need_a_token(
        pytester, kinds, monkeypatch, kind):
    expected = kinds.make(kind, f"plugin-bad-{kind}")
    if kind == "store":
        from azext_entracert.core.profiles import ProfileStore
        from azext_entracert.core.store import CertificateStore

        CertificateStore().remove(ProfileStore().get(expected["name"]).store_thumbprint)
    elif kind == "pkcs11":
        monkeypatch.setenv(PIN_ENV, "not-the-pin")
    else:
        monkeypatch.delenv("ENTRA_TEST_SECRET")
    result, report = inner_run(pytester, expected, f"--entra-profile={expected['name']}")
    result.assert_outcomes(passed=1, errors=1)
    assert_one_line_failure(result, BAD_INPUTS[kind])
    assert_nothing_leaked(pytester, report, expected["secrets"] + ["not-the-pin"])


def assert_one_line_failure(result, *words):
    """The test that needs a token errors at set-up (``entra_token`` fails) with one line."""
    lines, output = result.stdout.lines, result.stdout.str()
    at = next(i for i, line in enumerate(lines) if "ERROR at setup of test_signs_in" in line)
    message, after = lines[at + 1], lines[at + 2]
    assert message.startswith("entracert: ") and after.startswith(("-", "=")), output
    for word in words:
        assert word in message, output
    assert "Traceback" not in output and "site-packages" not in output
