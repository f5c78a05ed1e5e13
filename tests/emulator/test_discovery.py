"""Instance discovery, discovery headers and JWKS caching, as clients that ask us see them.

Instance discovery must name the emulator's ``host:port``: msal-node's ``cloudDiscoveryMetadata``
(given offline from this very answer) looks its authority's host *with the port* up in
``aliases`` and then talks to ``preferred_network`` (ENTRA-FACTS 8); MSAL Python looks the host
*without* the port up (ENTRA-FACTS 1.1).
"""
import requests

DISCOVERY_CACHE = "max-age=86400, private"  # as Entra serves its discovery documents


def get(emulator, path, **params):
    return requests.get(f"{emulator.authority_host}{path}", params=params,
                        verify=emulator.ca_bundle, timeout=10)


def instance_metadata(emulator, host):
    return get(emulator, "/common/discovery/instance", **{
        "api-version": "1.1",
        "authorization_endpoint": f"https://{host}/{emulator.tenant_id}/oauth2/v2.0/authorize",
    }).json()


def test_instance_discovery_names_host_and_port(emulator):
    netloc = emulator.authority_host.split("://")[1]
    port = netloc.rsplit(":", 1)[1]
    [group] = instance_metadata(emulator, "127.0.0.1")["metadata"]
    assert group["preferred_network"] == netloc
    assert group["preferred_cache"] == netloc
    for alias in (netloc, f"localhost:{port}", "127.0.0.1", "localhost"):
        assert alias in group["aliases"]


def test_msal_python_with_instance_discovery_at_the_emulator(emulator, make_app, trust_emulator):
    """Instance discovery ON, pointed at the emulator instead of login.microsoftonline.com."""
    import msal

    from azext_entracert.core.certs import sha1_thumbprint

    client_app = make_app("discovery-msal", key_index=9)
    emulator.clear_log()
    client = msal.ConfidentialClientApplication(
        client_app.app_id, authority=f"{emulator.authority_host}/{emulator.tenant_id}",
        instance_discovery=f"{emulator.authority_host}/common/discovery/instance",
        client_credential={"private_key": client_app.pem,
                           "thumbprint": sha1_thumbprint(client_app.certificate)})
    result = client.acquire_token_for_client(["https://graph.microsoft.com/.default"])
    assert "access_token" in result, result
    paths = [entry["path"] for entry in emulator.requests_log()]
    assert paths[0] == "/common/discovery/instance"
    assert f"/{emulator.tenant_id}/oauth2/v2.0/token" in paths


def test_discovery_documents_and_keys_are_cacheable_as_entra_serves_them(emulator):
    for path in ("/common/discovery/instance",
                 f"/{emulator.tenant_id}/v2.0/.well-known/openid-configuration",
                 f"/{emulator.tenant_id}/.well-known/openid-configuration",
                 f"/{emulator.tenant_id}/discovery/v2.0/keys",
                 "/common/discovery/keys"):
        response = get(emulator, path)
        assert response.status_code == 200, path
        assert response.headers["Cache-Control"] == DISCOVERY_CACHE, path
        assert response.headers["Access-Control-Allow-Origin"] == "*", path
