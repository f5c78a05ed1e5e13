"""A key on a PKCS#11 token named by one URI (RFC 7512), through the real az with the
wheel-installed extension, against the emulator and a real SoftHSM2 token."""
import json
import os
import uuid

import pytest
from conftest import HSM_PIN, HSM_TOKEN
from cryptography import x509

from .conftest import assert_clean_failure, create_profile

P11_KIT_SOFTHSM2 = "/usr/share/p11-kit/modules/softhsm2.module"


@pytest.fixture
def hsm_env(softhsm, tmp_path):
    """A config folder of this test's own, and what az needs to reach the session's token."""
    return {"AZURE_CONFIG_DIR": str(tmp_path / "config"),
            "SOFTHSM2_CONF": os.environ["SOFTHSM2_CONF"], "HSM_PIN": HSM_PIN}


def _module(softhsm):
    """p11-kit's name for SoftHSM2 where its config is installed, else the library's path."""
    return "module-name=softhsm2" if os.path.isfile(P11_KIT_SOFTHSM2) else \
        f"module-path={softhsm}"


def test_a_key_made_and_used_through_a_uri_signs_in(az, emulator, softhsm, hsm_env, tmp_path):
    label = f"az-uri-{uuid.uuid4().hex[:8]}"
    made = az("entracert", "cert", "create", "--subject", "CN=az-uri", "--pin-env", "HSM_PIN",
              "--pkcs11-uri", f"pkcs11:token={HSM_TOKEN};object={label};id=%0a%0b?"
                              f"module-path={softhsm}",
              "--out", tmp_path / "uri.cer", env=hsm_env).out
    assert (made["pkcs11Token"], made["pkcs11Key"]) == (HSM_TOKEN, label)
    certificate = x509.load_der_x509_certificate((tmp_path / "uri.cer").read_bytes())
    app = emulator.create_application(label, certificates=[certificate])

    pin_file = tmp_path / "pin"
    pin_file.write_text(HSM_PIN + "\n")
    pin_file.chmod(0o600)
    # The key by its label and the id cert create gave it, the PIN file from the URI.
    uri = (f"pkcs11:token={HSM_TOKEN};object={label};id=%0A%0B;type=private"
           f"?{_module(softhsm)}&pin-source=file:{pin_file}")
    shown = create_profile(az, emulator, "uri", app["appId"], "--pkcs11-uri", uri,
                           env=hsm_env).out
    assert shown["pkcs11Uri"] == uri and shown["thumbprint"] == made["thumbprint"]
    record = json.loads((tmp_path / "config" / "entracert" / "profiles.json").read_text())
    assert "pkcs11_module" not in json.dumps(record) and HSM_PIN not in json.dumps(record)

    got = az("entracert", "token", "get", "--profile", "uri",
             env={k: v for k, v in hsm_env.items() if k != "HSM_PIN"}).out
    assert got["source"] == "network"
    assert emulator.verify_access_token(got["accessToken"])["appid"] == app["appId"]


@pytest.mark.parametrize("path, words", [
    ("object=k?pin-value=4711&", ["holds the PIN", "pin-source=file:"]),
    ("serial=0000000000000000;object=k?", ["has the serial '0000000000000000'", "Present:"]),
], ids=["pin-value", "wrong-serial"])
def test_a_bad_uri_fails_cleanly_and_stores_nothing(az, emulator, softhsm, hsm_env, path, words):
    uri = f"pkcs11:token={HSM_TOKEN};{path}module-path={softhsm}"
    result = create_profile(az, emulator, "bad-uri", "00000000-0000-0000-0000-000000000001",
                            "--pkcs11-uri", uri, "--pin-env", "HSM_PIN", env=hsm_env,
                            check=False)
    assert_clean_failure(result, *words)
    assert "4711" not in result.stderr
    assert not os.path.exists(os.path.join(hsm_env["AZURE_CONFIG_DIR"], "entracert",
                                           "profiles.json"))
