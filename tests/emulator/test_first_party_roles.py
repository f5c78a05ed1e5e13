"""Microsoft Graph's service principal in the emulator offers Graph's real application roles, under
their real ids (learn.microsoft.com/graph/permissions-reference), so that a role granted against
the emulator is the one granted against Entra ID, and a token's ``roles`` claim reads the same."""
from azext_entracert.core import lifecycle, profiles
from azext_entracert.emulator import Emulator
from azext_entracert.emulator import state as st

REAL_IDS = {
    "Application.Read.All": "9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30",
    "Application.ReadWrite.All": "1bfefb4e-e0b5-418b-a88f-73c46d2cc8e9",
    "Application.ReadWrite.OwnedBy": "18a4783c-866b-4cc7-a460-3d5e5662c884",
    "Directory.Read.All": "7ab1d382-f21e-4acd-a863-ba3e13f7da61",
    "User.Read.All": "df021288-bdef-4463-88db-98f22de89214",
}


def test_graph_lists_microsoft_graphs_app_roles_under_their_real_ids(emulator, tmp_path):
    admin = profiles.new_profile(
        "admin", tenant=emulator.tenant_id, client_id=emulator.admin["client_id"],
        certificate=emulator.admin["certificate"], authority_host=emulator.authority_host,
        ca_bundle=emulator.ca_bundle)
    graph = lifecycle.admin_graph(admin, directory=tmp_path)
    sp = graph.call("GET", f"servicePrincipals(appId='{st.GRAPH_APP_ID}')",
                    params={"$select": "appId,appRoles"})
    offered = {role["value"]: role["id"] for role in sp["appRoles"]
               if role["allowedMemberTypes"] == ["Application"]}
    assert {name: offered.get(name) for name in REAL_IDS} == REAL_IDS


def test_a_state_dir_from_an_older_emulator_gains_the_roles_and_keeps_its_grants(tmp_path):
    with Emulator(tmp_path) as emulator:
        admin_id = emulator.admin["client_id"]
    tenant = st.TenantState(tmp_path)
    with tenant.transaction() as data:  # as an emulator that knew one role left it
        graph_sp = st.service_principal_for(data, st.GRAPH_APP_ID)
        graph_sp["appRoles"] = [r for r in graph_sp["appRoles"]
                                if r["id"] == st.APPLICATION_READWRITE_ALL]
    with Emulator(tmp_path) as emulator:
        with emulator.state.read() as data:
            graph_sp = st.service_principal_for(data, st.GRAPH_APP_ID)
            admin_sp = st.service_principal_for(data, admin_id)
            assert {r["value"] for r in graph_sp["appRoles"]} >= set(REAL_IDS)
            assert len(graph_sp["appRoles"]) == len({r["id"] for r in graph_sp["appRoles"]})
            assert st.roles_of(data, admin_sp["id"], graph_sp["id"]) == [
                "Application.ReadWrite.All"]
