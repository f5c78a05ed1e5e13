"""The core's Microsoft Graph client against the emulator's Graph: an admin profile creates an
application with a certificate, appends another without losing the first, and refusals come back
as GraphError with Graph's code."""
import pytest

from azext_entracert.core import certgen, graph, profiles, tokens
from azext_entracert.core.errors import GraphError
from azext_entracert.core.http import HttpClient


@pytest.fixture
def admin_graph(emulator, tmp_path):
    admin = profiles.new_profile(
        "admin", tenant=emulator.tenant_id, client_id=emulator.admin["client_id"],
        certificate=emulator.admin["certificate"], authority_host=emulator.authority_host,
        ca_bundle=emulator.ca_bundle)
    return _client(admin, emulator, tmp_path)


def _client(profile, emulator, tmp_path):
    scope = [f"{profile.graph_endpoint}/.default"]
    return graph.GraphClient(
        endpoint=profile.graph_endpoint, http=HttpClient(ca_bundle=emulator.ca_bundle),
        token_provider=lambda: tokens.acquire(profile, scope, directory=tmp_path).token)


def test_create_then_append_keeps_every_certificate(admin_graph, emulator):
    first = certgen.create_self_signed("CN=graph-first")
    app = admin_graph.create_application("graph-core", certificates=[first])
    second = certgen.create_self_signed("CN=graph-second")
    admin_graph.append_key_credential(admin_graph.find_application(app["appId"]), second)
    keys = admin_graph.find_application(app["appId"])["keyCredentials"]
    assert sorted(k["customKeyIdentifier"] for k in keys) == sorted(
        [first.thumbprint, second.thumbprint])
    assert all(k["key"] for k in keys)


def test_unknown_application_is_a_clear_error(admin_graph):
    with pytest.raises(GraphError, match="No application with appId"):
        admin_graph.find_application("00000000-0000-0000-0000-00000000abcd")


def test_identity_without_graph_role_is_refused(emulator, make_app, tmp_path):
    app = make_app("graph-norole")
    plain = profiles.new_profile("plain", tenant=emulator.tenant_id, client_id=app.app_id,
                                 certificate=app.pem_path, authority_host=emulator.authority_host,
                                 ca_bundle=emulator.ca_bundle)
    with pytest.raises(GraphError) as err:
        _client(plain, emulator, tmp_path).create_application("nope")
    assert err.value.status == 403 and err.value.code == "Authorization_RequestDenied"
    assert "Application.ReadWrite.All" in err.value.hint


def test_app_id_cannot_widen_the_filter(admin_graph, emulator):
    """An --app-id with a quote stays one OData string literal: it finds nothing, not everything."""
    certificate = certgen.create_self_signed("CN=graph-filter")
    admin_graph.create_application("graph-filter", certificates=[certificate])
    emulator.clear_log()
    with pytest.raises(GraphError):
        admin_graph.find_application("x' or appId ne 'y")
    sent = [r["query"].get("$filter") for r in emulator.requests_log()
            if r["path"].endswith("/v1.0/applications")]
    assert sent == ["appId eq 'x'' or appId ne ''y'"]  # OData doubles a quote inside a literal


def test_a_new_application_signs_in_only_with_its_service_principal(admin_graph, emulator,
                                                                   tmp_path):
    """As in Entra, creating the application is not enough: AADSTS7000229 until the core gives
    it a service principal, then the certificate gets a token."""
    from azext_entracert.core.errors import AuthenticationError

    loaded = certgen.create_self_signed("CN=graph-sp")
    pfx = tmp_path / "sp.pfx"
    certgen.write_bundle(loaded, pfx, password=None)
    app = admin_graph.create_application("graph-sp", certificates=[loaded])
    profile = profiles.new_profile("sp", tenant=emulator.tenant_id, client_id=app["appId"],
                                   certificate=str(pfx), authority_host=emulator.authority_host,
                                   ca_bundle=emulator.ca_bundle)
    with pytest.raises(AuthenticationError, match="7000229"):
        tokens.acquire(profile, directory=tmp_path / "cache")
    sp = admin_graph.create_service_principal(app["appId"])
    assert sp["appId"] == app["appId"]
    assert tokens.acquire(profile, directory=tmp_path / "cache").source == "network"
