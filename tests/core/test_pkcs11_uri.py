"""PKCS#11 URIs (RFC 7512, https://www.rfc-editor.org/rfc/rfc7512): parsing, every refusal, and
keys named by a URI on a real token (SoftHSM2, the ``softhsm`` fixture of tests/conftest.py)."""
import gc
import os
import uuid

import pytest
from conftest import HSM_PIN, HSM_TOKEN

from azext_entracert.core import credentials, pkcs11, profiles, tokens
from azext_entracert.core.credentials import Pkcs11Key
from azext_entracert.core.errors import ConfigurationError, HardwareKeyError, PasswordError
from azext_entracert.core.pkcs11_uri import p11_kit_module_dirs, parse_uri

SOFTHSM2_P11_KIT = "/usr/share/p11-kit/modules/softhsm2.module"


def test_attributes_are_percent_decoded_and_unknown_query_attributes_ignored(tmp_path):
    uri = parse_uri("pkcs11:token=my%20token;object=app%3Bkey;id=%01%ff;type=private;"
                    "serial=ABC;manufacturer=SoftHSM%20project;library-version=2"
                    f"?module-path=/opt/hsm.so&pin-source=file:{tmp_path}/pin&x-vendor=1")
    assert (uri.token, uri.key, uri.key_id) == ("my token", "app;key", b"\x01\xff")
    assert (uri.module, uri.pin_file) == ("/opt/hsm.so", f"{tmp_path}/pin")
    assert uri.selectors == (("serial", "ABC"), ("manufacturer", "SoftHSM project"),
                             ("library-version", "2.0"))
    assert parse_uri("pkcs11:token=t;object=k;type=cert?pin-source=/etc/pin").pin_file == \
        "/etc/pin"
    # pin-source is a URI of its own: an encoded '?' belongs to the file's name.
    assert parse_uri("pkcs11:token=t;object=k?pin-source=file:/tmp/a%3Fb").pin_file == \
        "/tmp/a?b"


def test_the_recorded_uri_is_rebuilt_from_what_was_read(tmp_path):
    """Ignored attributes are not carried into the profile: a PIN a vendor's query attribute
    (or a differently cased pin-value) holds never reaches profiles.json, describe() or repr."""
    source = Pkcs11Key(pkcs11_uri=f"pkcs11:object=app%3Bkey;token=my%20token;id=%01%ff"
                                  f"?module-path=/opt/hsm.so&PIN-VALUE=9876&x-pin=9876"
                                  f"&pin-source=file:{tmp_path}/a%3Fb")
    canonical = (f"pkcs11:token=my%20token;object=app%3Bkey;id=%01%FF"
                 f"?module-path=/opt/hsm.so&pin-source=file:{tmp_path}/a%3Fb")
    assert source.pkcs11_uri == canonical and source.fields()["pkcs11_uri"] == canonical
    assert "9876" not in repr(source) + source.describe()
    assert parse_uri(canonical) == source.uri  # the record reads back as the same key
    relabelled = parse_uri(canonical).with_object("app-20261203")
    assert relabelled.text() == (f"pkcs11:token=my%20token;object=app-20261203"
                                 f"?module-path=/opt/hsm.so&pin-source=file:{tmp_path}/a%3Fb")
    assert parse_uri("pkcs11:token=t;object=k?module-name=softhsm2").text() == \
        "pkcs11:token=t;object=k?module-name=softhsm2"


@pytest.mark.parametrize("text, words", [
    ("pkcs:token=t;object=k", "does not start with 'pkcs11:'"),
    ("token=t;object=k", "does not start with 'pkcs11:'"),
    ("pkcs11:token=t%2;object=k", "bad percent escape in 'token=t%2'"),
    ("pkcs11:token=t;object=k;token=u", "repeats the attribute 'token'"),
    ("pkcs11:token=t;object=k?module-path=/a.so&module-path=/b.so", "repeats the attribute"),
    ("pkcs11:token=t;object=k;type=public", "names a 'public' object"),
    ("pkcs11:token=t;object=k;type=secret-key", "names a 'secret-key' object"),
    ("pkcs11:token=t;object=k;type=data", "names a 'data' object"),
    ("pkcs11:token=t;object=k;x-vendor=1", "attribute 'x-vendor', which entracert does not"),
    ("pkcs11:token=t;object=k;slot-id=first", "slot-id=first, which is not a number"),
    ("pkcs11:token=t;object=k;library-version=two", "library-version=two"),
    ("pkcs11:object=k", "names no token"),
    ("pkcs11:token=t", "names no key"),
    ("pkcs11:token=t;object=k;id", "'id', which is no name=value attribute"),
    ("pkcs11:token=t;object=k?module-path=/a.so&module-name=softhsm2", "both module-path"),
    ("pkcs11:token=t;object=k?module-name=no-such-module", "module-name=no-such-module"),
    ("pkcs11:token=t;object=k?pin-source=https://example.com/pin", "neither a file: URI"),
    ("pkcs11:token=t;object=k?module-path=lib.so", "relative path module-path=lib.so"),
    ("pkcs11:token=t;object=k?pin-source=pin.txt", "relative path pin-source=pin.txt"),
])
def test_a_bad_uri_is_refused_naming_what_is_wrong_and_showing_a_valid_one(text, words):
    with pytest.raises(ConfigurationError, match=words.replace("(", r"\(")) as caught:
        parse_uri(text)
    assert caught.value.hint


def test_a_pin_inside_the_uri_is_refused_and_never_repeated():
    with pytest.raises(ConfigurationError, match="bad percent escape") as caught:
        parse_uri("pkcs11:token=t;object=k;id=%zz?pin-value=4711")  # an error before the PIN's
    assert "4711" not in str(caught.value)
    with pytest.raises(ConfigurationError, match="bad percent escape in 'pin-value=...'"):
        parse_uri("pkcs11:token=t;object=k?pin-value=47%1")
    with pytest.raises(ConfigurationError, match="holds the PIN") as caught:
        parse_uri("pkcs11:token=t;object=k?pin-value=4711")
    assert "4711" not in str(caught.value) and "pin-source=file:" in caught.value.hint


@pytest.mark.skipif(not os.path.isfile(SOFTHSM2_P11_KIT),
                    reason="p11-kit's softhsm2.module is not installed")
def test_module_name_is_resolved_through_p11_kit_configs(tmp_path, monkeypatch):
    assert parse_uri("pkcs11:token=t;object=k?module-name=softhsm2").module.endswith(
        "/libsofthsm2.so")
    # The user's config wins over the system's; a relative library is in p11-kit's module dir.
    monkeypatch.setenv("HOME", str(tmp_path))
    configs = tmp_path / ".config" / "pkcs11" / "modules"
    configs.mkdir(parents=True)
    (configs / "softhsm2.module").write_text("# mine\nmodule: libmine.so\n")
    resolved = parse_uri("pkcs11:token=t;object=k?module-name=softhsm2").module
    assert resolved in [f"{folder}/libmine.so" for folder in p11_kit_module_dirs()]


def test_a_uri_source_takes_everything_from_the_uri_and_a_profile_records_only_it():
    uri = "pkcs11:token=entracert;object=app?module-path=/opt/hsm.so&pin-source=file:/run/pin"
    source = credentials.from_fields({"pkcs11_uri": uri})
    assert (source.pkcs11_module, source.pkcs11_token, source.pkcs11_key, source.pin_file) == \
        ("/opt/hsm.so", "entracert", "app", "/run/pin")
    assert source.describe() == f"PKCS#11 key {uri}"
    recorded = {k: v for k, v in source.fields().items() if v}
    assert recorded == {"pkcs11_uri": uri}
    assert credentials.from_fields(recorded) == source
    assert credentials.resolved(source) == source


@pytest.mark.parametrize("values, words", [
    ({"pkcs11_uri": "pkcs11:token=t;object=k"}, "names no module"),
    ({"pkcs11_uri": "pkcs11:token=t;object=k?module-path=/m.so", "pkcs11_token": "u"},
     "--pkcs11-token 'u' does not agree"),
    ({"pkcs11_uri": "pkcs11:serial=1;object=k?module-path=/m.so", "pkcs11_token": "u"},
     "names no token label"),
    ({"pkcs11_uri": "pkcs11:token=t;object=k?module-path=/m.so&pin-source=/p",
      "pin_env": "PIN"}, "--pin-env cannot be used"),
])
def test_options_besides_a_uri_must_agree_with_it(values, words):
    with pytest.raises(ConfigurationError, match=words):
        credentials.from_fields(values)


def test_uri_selectors_keep_token_caches_apart():
    base = "pkcs11:token=t;object=k?module-path=/m.so"
    one = Pkcs11Key(pkcs11_uri=base.replace(";object", ";serial=1;object"))
    two = Pkcs11Key(pkcs11_uri=base.replace(";object", ";serial=2;object"))
    three = Pkcs11Key(pkcs11_uri=base.replace(";object=k", ";object=k;id=%01"))
    assert len({one.fingerprint(), two.fingerprint(), three.fingerprint()}) == 3
    # Without selectors a URI names the same key as the labels, and shares its cache.
    labels = Pkcs11Key(pkcs11_module="/m.so", pkcs11_token="t", pkcs11_key="k")
    assert Pkcs11Key(pkcs11_uri=base).fingerprint() == labels.fingerprint()


# --- On a real token ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def token_key(softhsm):
    """A key pair with its certificate on the session's token, and the token's serial."""
    from azext_entracert.core.certgen import parse_subject

    label = f"uri-{uuid.uuid4().hex[:8]}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("URI_HSM_PIN", HSM_PIN)
        source = Pkcs11Key(pkcs11_uri=f"pkcs11:token={HSM_TOKEN};object={label};id=%c0%ff%ee"
                                      f"?module-path={softhsm}", pin_env="URI_HSM_PIN")
        certificate = pkcs11.create_on_token(source, parse_subject(f"CN={label}"), days=30)
        with source.open() as session:
            serial = session.token.serial.decode()
    return label, certificate, serial


def _uri(softhsm, label, **extra):
    path = ";".join([f"token={HSM_TOKEN}", f"object={label}",
                     *(f"{name.replace('_', '-')}={value}" for name, value in extra.items())])
    return f"pkcs11:{path}?module-path={softhsm}"


def test_a_key_made_through_a_uri_has_its_id(token_key, softhsm, monkeypatch):
    label, certificate, _ = token_key
    monkeypatch.setenv("URI_HSM_PIN", HSM_PIN)
    loaded = Pkcs11Key(pkcs11_uri=_uri(softhsm, label, id="%C0%FF%EE"),
                       pin_env="URI_HSM_PIN").load()
    assert loaded.private_key.key_id == b"\xc0\xff\xee"
    assert loaded.certificate == certificate


def test_every_token_slot_and_library_attribute_is_matched(token_key, softhsm, monkeypatch):
    from urllib.parse import quote

    label, certificate, serial = token_key
    monkeypatch.setenv("URI_HSM_PIN", HSM_PIN)
    source = Pkcs11Key(pkcs11_uri=_uri(softhsm, label), pin_env="URI_HSM_PIN")
    with source.open() as session:
        token, library = session.token, pkcs11._pkcs11().lib(os.path.realpath(softhsm))
        present = {
            "serial": serial, "manufacturer": token.manufacturer_id, "model": token.model,
            "slot_id": token.slot.slot_id, "slot_description": token.slot.slot_description,
            "slot_manufacturer": token.slot.manufacturer_id,
            "library_manufacturer": library.manufacturer_id,
            "library_description": library.library_description,
            "library_version": "{}.{}".format(*library.library_version)}
    narrowed = {name: quote(str(value)) for name, value in present.items()}
    loaded = Pkcs11Key(pkcs11_uri=_uri(softhsm, label, **narrowed), pin_env="URI_HSM_PIN").load()
    assert loaded.certificate == certificate


@pytest.mark.parametrize("extra, words", [
    ({"serial": "0000000000000000"}, "has the serial '0000000000000000'"),
    ({"manufacturer": "Acme"}, "has the manufacturer 'Acme'"),
    ({"model": "Other"}, "has the model 'Other'"),
    ({"slot_description": "Other"}, "has the slot-description 'Other'"),
    ({"library_manufacturer": "Acme"}, "has library-manufacturer 'SoftHSM'"),
    ({"library_version": "99"}, "not '99.0'"),
    ({"id": "%01"}, "has the id c0ffee, not 01"),
])
def test_a_selector_that_does_not_match_names_what_is_present(
        token_key, softhsm, monkeypatch, extra, words):
    label, _, serial = token_key
    monkeypatch.setenv("URI_HSM_PIN", HSM_PIN)
    source = Pkcs11Key(pkcs11_uri=_uri(softhsm, label, **extra), pin_env="URI_HSM_PIN")
    with pytest.raises(HardwareKeyError, match=words) as caught:
        source.load()
    if "serial" in extra:
        assert f"Present: serial '{serial}'" in caught.value.hint


def test_a_uri_profile_gets_a_token_from_the_emulator_by_serial_alone(
        token_key, softhsm, emulator, trust_emulator, monkeypatch, tmp_path):
    label, certificate, serial = token_key
    monkeypatch.setenv("URI_HSM_PIN", HSM_PIN)
    uri = (f"pkcs11:serial={serial};object={label};model=SoftHSM%20v2;type=private"
           f"?module-path={softhsm}")
    app = emulator.create_application(label, certificates=[certificate])
    profile = profiles.new_profile(
        "uri", tenant=emulator.tenant_id, client_id=app["appId"],
        credential=Pkcs11Key(pkcs11_uri=uri, pin_env="URI_HSM_PIN"),
        authority_host=emulator.authority_host, ca_bundle=emulator.ca_bundle)
    assert (profile.pkcs11_uri, profile.pkcs11_token, profile.pin_env) == (
        f"pkcs11:serial={serial};model=SoftHSM%20v2;object={label};type=private"
        f"?module-path={softhsm}", None, "URI_HSM_PIN")
    gc.collect()  # what earlier tests left, so that only this acquisition can keep a login
    gc.disable()
    try:
        token = tokens.acquire(profile, force=True, directory=tmp_path)
        # The token's login ended with the acquisition (MSAL's client holds the key in a
        # reference cycle that only a collection would free): a wrong PIN is refused again.
        monkeypatch.setenv("URI_HSM_PIN", "0000")
        with pytest.raises(PasswordError, match="refused the PIN"):
            Pkcs11Key(pkcs11_uri=uri, pin_env="URI_HSM_PIN").load()
    finally:
        gc.enable()
    assert emulator.verify_access_token(token.token)["appid"] == app["appId"]


def test_two_tokens_sharing_a_label_keep_their_own_logins(softhsm, tmp_path):
    """Logged in to one token, the process must still ask the other (same label, told apart by
    serial) for its own PIN: a wrong one is refused. In a process of its own, since SoftHSM2
    reads its configuration once per process."""
    import shutil
    import subprocess
    import sys

    folder = tmp_path / "twins"
    (folder / "tokens").mkdir(parents=True)
    conf = folder / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {folder / 'tokens'}\nobjectstore.backend = file\n"
                    "log.level = ERROR\n")
    env = {**os.environ, "SOFTHSM2_CONF": str(conf)}
    for pin in ("1111", "2222"):
        subprocess.run([shutil.which("softhsm2-util"), "--init-token", "--free", "--label",
                        "twin", "--pin", pin, "--so-pin", "5678"],
                       check=True, capture_output=True, env=env)
    script = f"""
import pkcs11
from azext_entracert.core import pkcs11 as p11
from azext_entracert.core.errors import PasswordError
from azext_entracert.core.secrets import PasswordSource
library = pkcs11.lib({os.path.realpath(softhsm)!r})
serials = sorted(s.get_token().serial.decode().strip()
                 for s in library.get_slots(token_present=True)
                 if s.get_token().label.strip() == "twin")
assert len(serials) == 2, serials
pins = {{}}
for serial in serials:  # which PIN opens which token
    for pin in ("1111", "2222"):
        try:
            with p11.open_session({softhsm!r}, None, PasswordSource.from_prompt(lambda _t: pin),
                                  selectors=(("serial", serial),)):
                pins[serial] = pin
        except PasswordError:
            pass
first, second = serials
with p11.open_session({softhsm!r}, None, PasswordSource.from_prompt(lambda _t: pins[first]),
                      selectors=(("serial", first),)):
    try:
        with p11.open_session({softhsm!r}, None, PasswordSource.from_prompt(
                lambda _t: pins[first]), selectors=(("serial", second),)):
            print("joined")
    except PasswordError:
        print("refused")
"""
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "refused"
