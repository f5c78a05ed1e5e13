"""Real clients, unmodified, against the emulator: MSAL, azure-identity and the az CLI.

They only trust the emulator's CA (REQUESTS_CA_BUNDLE, ENTRA-FACTS 0.3/0.4) and turn instance
discovery off (0.2). The request log shows what each client sent on the wire.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import az_environment, sign_in_az

GRAPH = "https://graph.microsoft.com/.default"
ARM = "https://management.core.windows.net//.default"
AZ = str(Path(sys.executable).with_name("az"))


def token_requests(emulator):
    return [e for e in emulator.requests_log() if e["path"].endswith("/oauth2/v2.0/token")]


@pytest.fixture(scope="module")
def client_app(make_app):
    return make_app("clients-app", key_index=7)


def msal_app(emulator, client_app, credential, tenant=None):
    import msal

    return msal.ConfidentialClientApplication(
        client_app.app_id, client_credential=credential, instance_discovery=False,
        authority=f"{emulator.authority_host}/{tenant or emulator.tenant_id}")


def pfx_file(client_app, tmp_path, password=b"pfx-pass"):
    from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, pkcs12

    path = tmp_path / "client.pfx"
    path.write_bytes(pkcs12.serialize_key_and_certificates(
        b"client", client_app.private_key, client_app.certificate, None,
        BestAvailableEncryption(password)))
    return str(path), password


@pytest.mark.parametrize("form, expected", [
    ("thumbprint", "RS256 x5t"),
    ("public_certificate", "PS256 x5t#S256 x5c"),
    ("pfx", "PS256 x5t#S256"),
])
def test_msal_in_every_certificate_form(emulator, client_app, trust_emulator, tmp_path, form,
                                        expected):
    from azext_entracert.core.certs import sha1_thumbprint

    credential = {
        "thumbprint": {"private_key": client_app.pem,
                       "thumbprint": sha1_thumbprint(client_app.certificate)},
        "public_certificate": {"private_key": client_app.pem, "public_certificate": client_app.pem},
    }.get(form)
    if form == "pfx":
        path, password = pfx_file(client_app, tmp_path)
        credential = {"private_key_pfx_path": path, "passphrase": password}
    emulator.clear_log()
    result = msal_app(emulator, client_app, credential, tenant=emulator.tenant_domain
                      ).acquire_token_for_client([GRAPH])
    assert "access_token" in result, result
    claims = emulator.verify_access_token(result["access_token"])
    assert claims["appid"] == client_app.app_id and claims["aud"] == "https://graph.microsoft.com"
    [sent] = token_requests(emulator)
    assert sent["credential"] == expected and sent["status"] == 200


def test_msal_serves_the_second_call_from_its_cache(emulator, client_app, trust_emulator):
    from azext_entracert.core.certs import sha1_thumbprint

    app = msal_app(emulator, client_app, {"private_key": client_app.pem,
                                          "thumbprint": sha1_thumbprint(client_app.certificate)})
    first = app.acquire_token_for_client([GRAPH])
    emulator.clear_log()
    second = app.acquire_token_for_client([GRAPH])
    assert second["token_source"] == "cache" and second["access_token"] == first["access_token"]
    assert emulator.requests_log() == []


def test_msal_surfaces_entra_errors(emulator, make_app, trust_emulator, rsa_keys):
    from conftest import make_certificate, pem_of

    from azext_entracert.core.certs import sha1_thumbprint

    app = make_app("clients-unregistered", key_index=8)
    stranger = make_certificate(rsa_keys[2])
    result = msal_app(emulator, app, {"private_key": pem_of(rsa_keys[2], stranger),
                                      "thumbprint": sha1_thumbprint(stranger)}
                      ).acquire_token_for_client([GRAPH])
    assert result["error"] == "invalid_client" and result["error_codes"] == [700027]
    assert sha1_thumbprint(stranger) in result["error_description"]


@pytest.mark.parametrize("send_chain", [False, True])
def test_azure_identity_certificate_credential(emulator, client_app, trust_emulator, send_chain):
    from azure.identity import CertificateCredential

    credential = CertificateCredential(
        emulator.tenant_id, client_app.app_id, certificate_data=client_app.pem.encode("ascii"),
        authority=emulator.authority_host, disable_instance_discovery=True,
        send_certificate_chain=send_chain)
    emulator.clear_log()
    token = credential.get_token(ARM)
    claims = emulator.verify_access_token(token.token)
    assert claims["aud"] == "https://management.core.windows.net/" and claims["appidacr"] == "2"
    assert token_requests(emulator)[-1]["credential"] == ("RS256 x5t x5c" if send_chain
                                                          else "RS256 x5t")


def test_azure_identity_client_secret_credential(emulator, make_app, trust_emulator):
    from azure.core.exceptions import ClientAuthenticationError
    from azure.identity import ClientSecretCredential

    app = make_app("clients-secret", key_index=8)
    secret = emulator.add_client_secret(app.app_id)
    credential = ClientSecretCredential(emulator.tenant_id, app.app_id, secret,
                                        authority=emulator.authority_host,
                                        disable_instance_discovery=True)
    assert emulator.verify_access_token(credential.get_token(GRAPH).token)["appidacr"] == "1"
    wrong = ClientSecretCredential(emulator.tenant_id, app.app_id, secret[::-1],
                                   authority=emulator.authority_host,
                                   disable_instance_discovery=True)
    with pytest.raises(ClientAuthenticationError, match="AADSTS7000215"):
        wrong.get_token(GRAPH)


def run_az(args, env):
    done = subprocess.run([AZ, *args, "--only-show-errors"], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, f"az {' '.join(args)} failed:\n{done.stderr}"
    return done.stdout


@pytest.mark.skipif(not os.path.exists(AZ), reason="az is not installed beside this Python")
def test_azure_cli_logs_in_and_gets_tokens(emulator, make_app, tmp_path):
    """The real az 2.91 (ENTRA-FACTS 0.8): register the emulator as a cloud, log in with a
    certificate through the domain tenant, and fetch ARM and Graph tokens."""
    app = make_app("clients-az", key_index=9)
    env = az_environment(emulator, tmp_path / "az")
    host = emulator.authority_host
    # the ARM metadata route lets az discover the same endpoints by itself
    run_az(["cloud", "register", "-n", "EmuDiscovered", "--endpoint-resource-manager", host + "/"],
           env)
    sign_in_az(lambda *args: run_az(list(args), env), emulator, client_id=app.app_id,
               certificate=app.pem_path, tenant=emulator.tenant_domain)
    arm = json.loads(run_az(["account", "get-access-token", "-o", "json"], env))
    claims = emulator.verify_access_token(arm["accessToken"])
    assert claims["aud"] == "https://management.core.windows.net/"
    assert claims["appid"] == app.app_id and claims["tid"] == emulator.tenant_id
    graph = json.loads(run_az(["account", "get-access-token", "--resource-type", "ms-graph",
                               "-o", "json"], env))
    assert emulator.verify_access_token(graph["accessToken"])["aud"] == host + "/"
    discovered = json.loads(run_az(["cloud", "show", "-n", "EmuDiscovered", "-o", "json"], env))
    assert discovered["endpoints"]["activeDirectory"] == host
    assert discovered["endpoints"]["microsoftGraphResourceId"] == host + "/"
