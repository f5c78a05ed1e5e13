"""Who changed an application, as the audit trail records it (issue 13, "Audit says who").

The actor is whatever identity the GraphClient calls as: an admin profile (``admin_graph``), the
application itself during a rotation (addKey/removeKey with its own key), or an identity the
adapter names (``graph_client(actor=...)``: the az account). Against the emulator, real tokens.
"""
import pytest
from conftest import make_certificate
from cryptography.hazmat.primitives import serialization

from azext_entracert.core import audit, lifecycle, profiles, tokens
from azext_entracert.core.errors import ConfigurationError
from azext_entracert.core.rotation import rotate


def _profile(name, client_id, certificate, emulator):
    return profiles.new_profile(name, tenant=emulator.tenant_id, client_id=client_id,
                                certificate=certificate, authority_host=emulator.authority_host,
                                ca_bundle=emulator.ca_bundle)


@pytest.fixture
def admin(emulator):
    return _profile("admin", emulator.admin["client_id"], emulator.admin["certificate"], emulator)


def _cer(tmp_path, key, name):
    path = tmp_path / f"{name}.cer"
    path.write_bytes(make_certificate(key, name).public_bytes(serialization.Encoding.DER))
    return path


def _changes(directory):
    return [e for e in audit.read(directory) if e["source"] == "graph"]


def test_a_change_for_another_application_names_the_admin_and_the_application(
        emulator, make_app, rsa_keys, admin, tmp_path):
    mine, other = make_app("actor-mine"), make_app("actor-other")
    profile = _profile("mine", mine.app_id, mine.pem_path, emulator)
    graph = lifecycle.admin_graph(admin, directory=tmp_path)
    lifecycle.add_certificate(graph, profile, _cer(tmp_path, rsa_keys[1], "actor-extra"),
                              app_id=other.app_id, directory=tmp_path)
    (entry,) = _changes(tmp_path)
    assert entry["actor"] == lifecycle.profile_actor(admin) == {
        "type": "profile", "name": "admin", "clientId": emulator.admin["client_id"],
        "tenant": emulator.tenant_id}
    assert entry["appId"] == other.app_id and entry["profile"] == "mine"


def test_a_client_built_for_another_identity_is_recorded_as_that_identity(
        emulator, make_app, rsa_keys, admin, tmp_path):
    """The az adapter builds its client with ``az_actor``; whatever token provider it has."""
    app = make_app("actor-az")
    profile = _profile("app", app.app_id, app.pem_path, emulator)
    scopes = lifecycle.graph_scopes(admin.graph_endpoint)
    someone = lifecycle.az_actor("alice@contoso.example", user_type="user",
                                 tenant=emulator.tenant_id)
    graph = lifecycle.graph_client(
        admin.graph_endpoint, lambda: tokens.acquire(admin, scopes, directory=tmp_path).token,
        ca_bundle=admin.ca_bundle, actor=someone)
    lifecycle.add_certificate(graph, profile, _cer(tmp_path, rsa_keys[2], "actor-az"),
                              directory=tmp_path)
    (entry,) = _changes(tmp_path)
    assert entry["actor"] == {"type": "az", "name": "alice@contoso.example", "userType": "user",
                              "tenant": emulator.tenant_id}
    assert entry["appId"] == app.app_id


def test_rotation_steps_are_made_by_the_application_itself(emulator, make_app, admin, tmp_path):
    app = make_app("actor-rotate")
    store = profiles.ProfileStore(tmp_path)
    store.add(_profile("app", app.app_id, app.pem_path, emulator))
    rotate(store, "app", directory=tmp_path, no_password=True, verify_delay=0.05,
           verify_timeout=10, graph=lifecycle.admin_graph(admin, directory=tmp_path))
    steps = [e for e in _changes(tmp_path) if e["action"].startswith("rotate-")]
    assert {e["action"] for e in steps} >= {"rotate-addKey", "rotate-removeKey"}
    assert {(e["actor"]["name"], e["actor"]["clientId"], e["appId"]) for e in steps} == {
        ("app", app.app_id, app.app_id)}


def test_token_lines_have_no_actor_and_a_change_needs_no_profile(emulator, make_app, tmp_path):
    """A token is asked for by the profile itself; a new application has no profile yet."""
    app = make_app("actor-token")
    profile = _profile("app", app.app_id, app.pem_path, emulator)
    tokens.acquire(profile, directory=tmp_path, force=True)
    lifecycle.audit_change(tmp_path, None, "app-create", None, app_id=app.app_id,
                           actor=lifecycle.profile_actor(profile))
    token_line, change = audit.read(tmp_path)
    assert token_line["actor"] is None and token_line["appId"] is None
    assert change["profile"] is None and change["appId"] == app.app_id
    assert change["actor"]["clientId"] == app.app_id


def test_a_display_name_longer_than_graph_keeps_is_refused_before_any_change(
        emulator, make_app, rsa_keys, admin, tmp_path):
    app = make_app("actor-long-name")
    profile = _profile("app", app.app_id, app.pem_path, emulator)
    graph = lifecycle.admin_graph(admin, directory=tmp_path)
    before = emulator.application(app.app_id)["keyCredentials"]
    with pytest.raises(ConfigurationError, match="91 characters") as err:
        lifecycle.add_certificate(graph, profile, _cer(tmp_path, rsa_keys[3], "long"),
                                  display_name="n" * 91, directory=tmp_path)
    assert "--display-name" in err.value.hint
    assert emulator.application(app.app_id)["keyCredentials"] == before
    added = lifecycle.add_certificate(graph, profile, _cer(tmp_path, rsa_keys[3], "long"),
                                      display_name="n" * 90, directory=tmp_path)
    assert added["displayName"] == "n" * 90
