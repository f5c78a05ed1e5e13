"""Keys on a real PKCS#11 token: SoftHSM2, initialised in a temporary directory per session.

`make test` installs SoftHSM2 (Debian package softhsm2) when it is missing; these tests skip only
where it cannot be found. A token is found through ``SOFTHSM2_CONF``, set before the library is
first loaded in this process.
"""
import uuid

import pytest
from conftest import HSM_PIN, HSM_TOKEN

from azext_entracert.core import pkcs11 as p11
from azext_entracert.core.errors import ConfigurationError, HardwareKeyError, PasswordError
from azext_entracert.core.secrets import PasswordSource

pytest.importorskip("pkcs11", reason="python-pkcs11 is not installed (pip install -e '.[dev]')")

TOKEN, PIN = HSM_TOKEN, HSM_PIN  # the token the ``softhsm`` fixture (tests/conftest.py) makes
GRAPH = "https://graph.microsoft.com/.default"


@pytest.fixture
def pin(monkeypatch):
    monkeypatch.setenv("TEST_HSM_PIN", PIN)
    return PasswordSource.from_env("TEST_HSM_PIN")


@pytest.fixture
def session(softhsm, pin):
    with p11.open_session(softhsm, TOKEN, pin, write=True) as opened:
        yield opened


def unique(name):
    """A label no other test (or xdist worker) uses: the token outlives each test."""
    return f"{name}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def hsm_key(softhsm):
    """One RSA key generated on the token for the session, with its self-signed certificate."""
    from azext_entracert.core.certgen import build_certificate, parse_subject

    label = unique("session-key")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TEST_HSM_PIN", PIN)
        with p11.open_session(softhsm, TOKEN, PasswordSource.from_env("TEST_HSM_PIN"),
                              write=True) as opened:
            key = p11.generate_key(opened, label)
            certificate = build_certificate(subject=parse_subject("CN=hsm-app"),
                                            public_key=key.public_key(), signing_key=key, days=30)
            p11.store_certificate(opened, key, certificate)
    return label, certificate


def test_a_generated_key_is_sensitive_not_extractable_and_signs_rs256_and_ps256(session):
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding
    from pkcs11 import Attribute

    key = p11.generate_key(session, unique("gen"))
    inside = key._key
    assert inside[Attribute.SENSITIVE] and not inside[Attribute.EXTRACTABLE]
    assert inside[Attribute.NEVER_EXTRACTABLE] and inside[Attribute.SIGN]
    assert not inside[Attribute.DECRYPT] and inside[Attribute.TOKEN]
    assert key.key_size == 2048
    data = b"signing input"
    pss = padding.PSS(padding.MGF1(hashes.SHA256()), 32)
    key.public_key().verify(key.sign(data, padding.PKCS1v15(), hashes.SHA256()), data,
                            padding.PKCS1v15(), hashes.SHA256())
    key.public_key().verify(key.sign(data, pss, hashes.SHA256()), data, pss, hashes.SHA256())
    with pytest.raises(HardwareKeyError, match="stays inside the token"):
        key.private_bytes(None, None, None)
    assert "TokenPrivateKey(token='entracert'" in repr(key)


def test_the_self_signed_certificate_is_signed_in_the_token_and_stored_beside_the_key(
        hsm_key, session):
    from cryptography import x509

    label, certificate = hsm_key
    certificate.verify_directly_issued_by(certificate)
    assert x509.ExtendedKeyUsageOID.CLIENT_AUTH in certificate.extensions.get_extension_for_class(
        x509.ExtendedKeyUsage).value
    assert p11.find_certificate(session, label) == certificate
    assert p11.find_key(session, label).public_key() == certificate.public_key()


@pytest.mark.parametrize("legacy_sha1", [False, True], ids=["PS256", "RS256"])
def test_an_assertion_signed_in_the_token_gets_a_token_from_the_emulator(
        hsm_key, session, emulator, trust_emulator, legacy_sha1):
    import jwt
    import msal

    from azext_entracert.core.assertion import client_assertion
    from azext_entracert.core.certs import LoadedCertificate

    label, certificate = hsm_key
    app = emulator.create_application(unique("hsm-app"), certificates=[certificate])
    loaded = LoadedCertificate(certificate, p11.find_key(session, label), (), "pkcs11")
    authority = f"{emulator.authority_host}/{emulator.tenant_id}"
    signed = []

    def assertion():
        signed.append(client_assertion(loaded, audience=f"{authority}/oauth2/v2.0/token",
                                       client_id=app["appId"], legacy_sha1=legacy_sha1))
        return signed[-1]

    client = msal.ConfidentialClientApplication(
        app["appId"], authority=authority, instance_discovery=False,
        client_credential={"client_assertion": assertion})
    result = client.acquire_token_for_client([GRAPH])
    assert "access_token" in result, result
    assert emulator.verify_access_token(result["access_token"])["appid"] == app["appId"]
    assert jwt.get_unverified_header(signed[0])["alg"] == ("RS256" if legacy_sha1 else "PS256")


@pytest.mark.parametrize("legacy_sha1, sent", [(False, "PS256 x5t#S256"), (True, "RS256 x5t")])
def test_a_token_profile_signs_as_its_profile_says_and_is_audited_as_a_token_key(
        hsm_key, softhsm, pin, emulator, tmp_path, legacy_sha1, sent):
    """Through a profile, as ``token get`` runs it: PS256 by default, RS256 with
    ``--legacy-sha1``, as the emulator saw it; the audit line names the kind."""
    from azext_entracert.core import audit, profiles, tokens
    from azext_entracert.core.credentials import Pkcs11Key

    label, certificate = hsm_key
    app = emulator.create_application(unique("hsm-profile"), certificates=[certificate])
    profile = profiles.new_profile(
        "hsm", tenant=emulator.tenant_id, client_id=app["appId"], legacy_sha1=legacy_sha1,
        credential=Pkcs11Key(pkcs11_module=softhsm, pkcs11_token=TOKEN, pkcs11_key=label,
                             pin_env="TEST_HSM_PIN"),
        authority_host=emulator.authority_host, ca_bundle=emulator.ca_bundle)
    emulator.clear_log()
    tokens.acquire(profile, directory=tmp_path)
    [request] = [r for r in emulator.requests_log() if r["path"].endswith("/token")]
    assert request["credential"].startswith(sent) and request["status"] == 200
    assert audit.read(tmp_path)[-1]["credential"] == "pkcs11-key"


# --- Bad input: each a clear error with the fix ------------------------------------------------

def test_a_wrong_pin_is_a_password_error_naming_its_source(softhsm, monkeypatch):
    monkeypatch.setenv("WRONG_PIN", "0000")
    with pytest.raises(PasswordError, match="refused the PIN from environment variable WRONG_PIN"
                       ) as caught:
        with p11.open_session(softhsm, TOKEN, PasswordSource.from_env("WRONG_PIN")):
            pass
    assert "0000" not in str(caught.value)


def test_an_unset_pin_variable_names_the_variable(softhsm, monkeypatch):
    monkeypatch.delenv("NO_SUCH_PIN", raising=False)
    with pytest.raises(PasswordError, match="NO_SUCH_PIN is not set"):
        with p11.open_session(softhsm, TOKEN, PasswordSource.from_env("NO_SUCH_PIN")):
            pass


def test_the_pin_can_come_from_a_file(softhsm, tmp_path):
    pin_file = tmp_path / "pin"
    pin_file.write_text(f"{PIN}\n")
    with p11.open_session(softhsm, TOKEN, PasswordSource.from_file(pin_file)) as opened:
        assert opened.token.label == TOKEN


def test_the_pin_prompt_names_the_token(softhsm):
    asked = []
    prompt = PasswordSource.from_prompt(lambda text: asked.append(text) or PIN)
    with p11.open_session(softhsm, TOKEN, prompt):
        pass
    assert asked == [f"PIN of token '{TOKEN}': "]


def test_a_missing_module_says_where_softhsm2_lives(pin, tmp_path):
    with pytest.raises(HardwareKeyError, match="does not exist") as caught:
        with p11.open_session(str(tmp_path / "nope.so"), TOKEN, pin):
            pass
    assert p11.SOFTHSM2_MODULE in caught.value.hint


def test_a_file_that_is_no_pkcs11_library_is_refused(softhsm, pin, tmp_path):
    fake = tmp_path / "fake.so"
    fake.write_bytes(b"not a library")
    with pytest.raises(HardwareKeyError, match="cannot be loaded"):
        with p11.open_session(str(fake), TOKEN, pin):
            pass


def test_an_unknown_token_label_lists_the_tokens_present(softhsm, pin):
    with pytest.raises(HardwareKeyError, match="No token labelled 'other'") as caught:
        with p11.open_session(softhsm, "other", pin):
            pass
    assert f"Tokens present: {TOKEN}" in caught.value.hint
    assert caught.value.token == "other"


def test_an_unknown_key_label(session):
    with pytest.raises(HardwareKeyError, match="No private key labelled 'absent'") as caught:
        p11.find_key(session, "absent")
    assert "pkcs11-tool --list-objects" in caught.value.hint and caught.value.key == "absent"


def test_an_ambiguous_key_label(session):
    from pkcs11 import KeyType

    label = unique("twice")
    for _ in range(2):  # made directly: generate_key refuses a label that is taken
        session.generate_keypair(KeyType.RSA, 2048, label=label, store=True)
    with pytest.raises(HardwareKeyError, match="Several private keys are labelled"):
        p11.find_key(session, label)
    with pytest.raises(HardwareKeyError, match="already has a key labelled"):
        p11.generate_key(session, label)


def test_a_key_that_is_not_rsa(session):
    from pkcs11 import Attribute, KeyType
    from pkcs11.util.ec import encode_named_curve_parameters

    label = unique("ec")
    parameters = session.create_domain_parameters(
        KeyType.EC, {Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")}, local=True)
    parameters.generate_keypair(store=True, label=label)
    with pytest.raises(HardwareKeyError, match="is of type EC, not RSA"):
        p11.find_key(session, label)


def test_a_key_without_the_sign_permission(session):
    from pkcs11 import Attribute, KeyType

    label = unique("nosign")
    session.generate_keypair(KeyType.RSA, 2048, label=label, store=True,
                             private_template={Attribute.SIGN: False})
    with pytest.raises(HardwareKeyError, match="not allowed to sign"):
        p11.find_key(session, label)


def test_an_unoffered_key_size(session):
    with pytest.raises(ConfigurationError, match="1024 bits"):
        p11.generate_key(session, unique("small"), bits=1024)


def test_a_label_without_a_certificate(session):
    with pytest.raises(HardwareKeyError, match="No certificate is labelled 'bare'"):
        p11.find_certificate(session, "bare")


def test_a_signature_the_token_does_not_offer_is_refused_before_reaching_it(hsm_key, session):
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    key = p11.find_key(session, hsm_key[0])
    with pytest.raises(ConfigurationError, match="Signing with sha1"):
        key.sign(b"data", padding.PKCS1v15(), hashes.SHA1())
    with pytest.raises(ConfigurationError, match="explicit salt length"):
        key.sign(b"data", padding.PSS(padding.MGF1(hashes.SHA256()), padding.PSS.MAX_LENGTH),
                 hashes.SHA256())
