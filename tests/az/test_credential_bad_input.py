"""Issue 12's bad input as a user meets it, through the real az with the wheel-installed extension:
a PKCS#11 token that cannot answer, a thumbprint the store cannot answer, a damaged store, a
client secret that is missing or expired. Each is a non-zero exit with az's ERROR line saying
what, why and how to fix it, never a traceback, and leaves profiles.json and the store as they
were (byte for byte)."""
import datetime
import json
import os
import uuid

import pytest
from conftest import HSM_PIN, HSM_TOKEN

from azext_entracert.core.store import CertificateStore

from .conftest import assert_clean_failure
from .conftest import create_profile as create

SOMEONE = "00000000-0000-0000-0000-00000000b12d"  # refused before anyone asks Entra about it
WRONG_PIN = "975310"


@pytest.fixture
def user(az, tmp_path):
    """az with a config folder of this test's own; ``user.folder`` is its entracert folder."""
    config = tmp_path / "config"

    def run(*args, env=None, check=True):
        return az(*args, env={"AZURE_CONFIG_DIR": str(config), **(env or {})}, check=check)

    run.folder = config / "entracert"
    return run


def on_disk(folder):
    """profiles.json and every file of the store, with their bytes: what a failing command must
    leave exactly as it found it (the audit trail, which records failures, is not included)."""
    files = [folder / "profiles.json", *sorted((folder / "store").rglob("*"))]
    return {str(path): path.read_bytes() for path in files if path.is_file()}


def refused(result, *words, secrets=()):
    """``assert_clean_failure`` that also keeps every secret out of what az printed."""
    assert_clean_failure(result, *words)
    for secret in secrets:
        assert secret not in result.stderr + json.dumps(result.out), result.stderr


# --- A key on a PKCS#11 token (SoftHSM2) ------------------------------------------------------

@pytest.fixture(scope="module")
def unusable_keys(softhsm):
    """Labels of keys on the session's token that no profile can sign with: one label on two RSA
    keys, an EC key, an RSA key whose CKA_SIGN is false. Made with python-pkcs11 directly,
    since entracert itself refuses to make any of them."""
    from pkcs11 import Attribute, KeyType
    from pkcs11.util.ec import encode_named_curve_parameters

    from azext_entracert.core import pkcs11 as p11
    from azext_entracert.core.secrets import PasswordSource

    labels = {kind: f"az-bad-{kind}-{uuid.uuid4().hex[:8]}" for kind in ("twice", "ec", "nosign")}
    pin = PasswordSource.from_prompt(lambda _: HSM_PIN)
    with p11.open_session(softhsm, HSM_TOKEN, pin, write=True) as session:
        for _ in range(2):
            session.generate_keypair(KeyType.RSA, 2048, label=labels["twice"], store=True)
        session.create_domain_parameters(
            KeyType.EC, {Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")},
            local=True).generate_keypair(store=True, label=labels["ec"])
        session.generate_keypair(KeyType.RSA, 2048, label=labels["nosign"], store=True,
                                 private_template={Attribute.SIGN: False})
    return labels


def test_a_token_profile_that_cannot_sign_is_refused_with_the_fix_and_nothing_is_written(
        user, emulator, make_app, softhsm, unusable_keys, tmp_path):
    good = make_app("az-bad-input-hsm")
    create(user, emulator, "good", good.app_id, "--certificate", good.pem_path)
    before = on_disk(user.folder)
    hsm = {"SOFTHSM2_CONF": os.environ["SOFTHSM2_CONF"], "HSM_PIN": HSM_PIN}
    # (what differs from a working token profile, what az must say): the message names the
    # module, token or key and why; the recommendation says what to do.
    cases = {
        "wrong PIN": ({"pin": "HSM_PIN"}, {"HSM_PIN": WRONG_PIN},
                      (f"The token '{HSM_TOKEN}' refused the PIN from environment variable "
                       "HSM_PIN", "Check the user PIN (not the SO PIN)")),
        "PIN variable unset": ({"pin": "NO_SUCH_PIN"}, {},
                               ("NO_SUCH_PIN is not set", "export NO_SUCH_PIN=")),
        "PIN variable empty": ({"pin": "HSM_PIN"}, {"HSM_PIN": ""},
                               (f"No PIN was given for the token '{HSM_TOKEN}'", "user PIN")),
        "missing module": ({"module": str(tmp_path / "libvendor-pkcs11.so")}, {},
                           (f"'{tmp_path / 'libvendor-pkcs11.so'}' does not exist",
                            "package softhsm2")),
        "token label not found": ({"token": "no-such-token"}, {},
                                  ("No token labelled 'no-such-token'",
                                   f"Tokens present: {HSM_TOKEN}", "softhsm2-util --show-slots")),
        "key label not found": ({"key": "no-such-key"}, {},
                                (f"No private key labelled 'no-such-key' is on the token "
                                 f"'{HSM_TOKEN}'", "pkcs11-tool --list-objects")),
        "key not RSA": ({"key": unusable_keys["ec"]}, {},
                        (f"'{unusable_keys['ec']}' on the token '{HSM_TOKEN}' is of type EC, "
                         "not RSA", "need an RSA key")),
        "key may not sign": ({"key": unusable_keys["nosign"]}, {},
                             (f"'{unusable_keys['nosign']}' on the token '{HSM_TOKEN}' is not "
                              "allowed to sign (CKA_SIGN is false)", "sign permission")),
    }
    for case, (change, env, words) in cases.items():
        chosen = {"module": softhsm, "token": HSM_TOKEN, "key": "any-key", "pin": "HSM_PIN",
                  **change}
        result = create(user, emulator, "hsm", SOMEONE, "--pkcs11-module", chosen["module"],
                        "--pkcs11-token", chosen["token"], "--pkcs11-key", chosen["key"],
                        "--pin-env", chosen["pin"], env={**hsm, **env}, check=False)
        assert result.returncode == 1, (case, result)
        refused(result, *words, secrets=[WRONG_PIN])
        assert on_disk(user.folder) == before, case
    # Only --pkcs11-key is missing: the hint shows how to name both labels, and where to look
    # them up (a tool's own options, which az must not drop as foreign to this command).
    half = create(user, emulator, "hsm", SOMEONE, "--pkcs11-module", softhsm, "--pkcs11-token",
                  HSM_TOKEN, "--pin-env", "HSM_PIN", env=hsm, check=False)
    refused(half, "A PKCS#11 key needs --pkcs11-key besides --pkcs11-module",
            "--pkcs11-key my-app (softhsm2-util --show-slots lists tokens)")
    assert on_disk(user.folder) == before


def test_a_key_label_on_two_keys_is_refused_without_a_traceback(user, emulator, softhsm,
                                                                 unusable_keys):
    """python-pkcs11's ``Session.get_key`` raises MultipleObjectsReturned with its object search
    still open; the error keeps that search alive until after the session is closed, and its
    late cleanup prints 'Exception ignored ... Traceback ... SessionHandleInvalid' under az's
    ERROR line. Searching with ``list(session.get_objects(...))`` finishes the search first."""
    label = unusable_keys["twice"]
    result = create(user, emulator, "hsm", SOMEONE, "--pkcs11-module", softhsm, "--pkcs11-token",
                    HSM_TOKEN, "--pkcs11-key", label, "--pin-env", "HSM_PIN",
                    env={"SOFTHSM2_CONF": os.environ["SOFTHSM2_CONF"], "HSM_PIN": HSM_PIN},
                    check=False)
    refused(result, f"Several private keys are labelled '{label}' on the token '{HSM_TOKEN}'",
            "Give each key its own label")
    assert "Exception ignored" not in result.stderr, result.stderr
    assert not (user.folder / "profiles.json").exists()


# --- A certificate in the store, by thumbprint ----------------------------------------------------

@pytest.fixture
def two_stored(user, make_app):
    """Two emulator apps whose key + certificate PEMs (unencrypted) are in the user's store;
    imported in-process, as 'store import' would (its own tests drive that through az)."""
    store = CertificateStore(user.folder)
    apps = [make_app(f"az-bad-input-store-{n}", key_index=n) for n in (0, 1)]
    return store, apps, [store.import_certificate(app.pem_path)[0] for app in apps]


def test_a_thumbprint_the_store_cannot_answer_lists_what_it_holds_and_writes_nothing(
        user, emulator, two_stored):
    store, apps, (first, second) = two_stored
    # A real 8-digit collision is 1 in 4 billion: give the second the first's prefix by hand.
    index = json.loads(store.index_path.read_text())
    prefix = first.thumbprint[:8]
    record = index["certificates"][second.thumbprint]
    record["thumbprint_sha256"] = prefix + record["thumbprint_sha256"][8:]
    store.index_path.write_text(json.dumps(index))
    create(user, emulator, "good", apps[0].app_id, "--certificate", apps[0].pem_path)
    before = on_disk(user.folder)

    unknown = create(user, emulator, "unknown", apps[0].app_id, "--thumbprint",
                     "01:23:45:67:89:ab:cd:ef", check=False)
    refused(unknown, "holds no certificate with thumbprint 0123456789ABCDEF (2 stored)",
            "az entracert store list", "az entracert store import --file")
    ambiguous = create(user, emulator, "ambiguous", apps[0].app_id, "--thumbprint",
                       prefix.lower(), check=False)
    refused(ambiguous, f"The thumbprint prefix {prefix} matches 2 stored certificates",
            f"{first.thumbprint} (CN=az-bad-input-store-0)",
            f"{second.thumbprint} (CN=az-bad-input-store-1)", "Give more digits")
    assert on_disk(user.folder) == before


def test_a_damaged_store_names_the_file_and_the_fix_at_token_get_and_is_left_as_it_is(
        user, emulator, two_stored):
    store, apps, (entry, _) = two_stored
    create(user, emulator, "stored", apps[0].app_id, "--thumbprint", entry.thumbprint)
    index, kept = store.index_path, store.folder / entry.file
    intact = index.read_bytes()

    index.write_text('{"version": 1, "certificates": {')  # cut short, as by a full disk
    before = on_disk(user.folder)
    damaged_index = user("entracert", "token", "get", "--profile", "stored", check=False)
    refused(damaged_index, f"The certificate store index '{index}' is damaged",
            "Repair the JSON by hand", f"import the certificates again (their files are in "
                                       f"'{store.folder}')")
    assert on_disk(user.folder) == before

    index.write_bytes(intact)
    kept.write_bytes(kept.read_bytes()[:200])  # the key file cut short
    before = on_disk(user.folder)
    damaged_file = user("entracert", "token", "get", "--profile", "stored", check=False)
    refused(damaged_file, f"The stored certificate {entry.thumbprint}", "is damaged",
            f"'{kept}' is no longer a certificate file we can read",
            f"az entracert store remove --thumbprint {entry.thumbprint}", "import it again")
    assert on_disk(user.folder) == before

    store.remove(entry.thumbprint)  # as 'store remove' does, while a profile still names it
    before = on_disk(user.folder)
    removed = user("entracert", "token", "get", "--profile", "stored", check=False)
    refused(removed, f"holds no certificate with thumbprint {entry.thumbprint} (1 stored). "
            "(Profile 'stored' reads its certificate from the store.)",
            "az entracert store import --file", "profile update --name stored --thumbprint")
    assert on_disk(user.folder) == before


# --- A client secret ------------------------------------------------------------------------------

def test_a_secret_that_is_empty_unset_or_expired_says_how_to_get_a_good_one(
        user, emulator, make_app):
    app = make_app("az-bad-input-secret")
    past = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=1)
    expired = emulator.add_client_secret(app.app_id, start=past - datetime.timedelta(days=90),
                                         end=past)
    empty = create(user, emulator, "empty", app.app_id, "--client-secret-env", "DEV_SECRET",
                   env={"DEV_SECRET": "  "}, check=False)
    refused(empty, "The environment variable DEV_SECRET (the client secret) is empty",
            "az entracert app secret add", "export DEV_SECRET=")
    assert not (user.folder / "profiles.json").exists()

    # Made while the variable was set; used later from a shell where it is not, then expired.
    create(user, emulator, "dev", app.app_id, "--client-secret-env", "DEV_SECRET",
           env={"DEV_SECRET": expired})
    before = on_disk(user.folder)
    unset = user("entracert", "token", "get", "--profile", "dev", check=False)
    refused(unset, "The environment variable DEV_SECRET (the client secret) is not set",
            "export DEV_SECRET=")
    late = user("entracert", "token", "get", "--profile", "dev", env={"DEV_SECRET": expired},
                check=False)
    refused(late, "AADSTS7000222", "has expired", "environment variable DEV_SECRET",
            "az entracert app secret add --profile dev --admin-profile ADMIN",
            "az entracert cert create --subject CN=dev --out dev.pfx",
            "az entracert app cert add --profile dev --file dev.cer",
            "az entracert profile update --name dev --certificate dev.pfx", secrets=[expired])
    assert on_disk(user.folder) == before
