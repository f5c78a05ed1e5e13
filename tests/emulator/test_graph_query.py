"""The OData query options of the emulated Graph (``emulator/odata.py``), as the Azure CLI and the
Graph SDKs send them: $filter, $select, $top with @odata.nextLink, $count with ConsistencyLevel.

Graph's rules are those of graph-docs ``concepts/aad-advanced-queries.md``: ``ne``/``not`` and
``$count`` are advanced queries (``ConsistencyLevel: eventual``); ``$count=true`` without the
header is silently ignored, the ``/$count`` segment without it is a 400.
"""
import urllib.parse

import pytest

from .test_graph import ORIGIN, Graph, admin_token, assert_error, keys  # noqa: F401 - fixture

EVENTUAL = {"ConsistencyLevel": "eventual"}
ADVANCED_MESSAGE = ("Operator '{}' is not supported because the required parameters might be "
                    "missing. Try adding $count=true query parameter and ConsistencyLevel:eventual "
                    "header. Refer to https://aka.ms/graph-docs/advanced-queries for more "
                    "information")


@pytest.fixture
def graph(tmp_path, keys):  # noqa: F811 - the imported session fixture
    return Graph(tmp_path, keys[0])


def names(response):
    assert response.status == 200, response.json
    return sorted(entity["displayName"] for entity in response.json["value"])


def listing(graph, collection="applications", headers=None, **query):
    return graph.call("GET", f"/v1.0/{collection}", query=query, headers=headers)


def create_sp(graph, app):
    response = graph.call("POST", "/v1.0/servicePrincipals", {"appId": app["appId"]})
    assert response.status in (201, 409), response.json  # 409: made with the app (older Graph)
    return response.json


# --- $filter ---

def test_startswith_on_display_name_ignores_case(graph):
    for name in ("Alpha-one", "alpha-two", "beta"):
        graph.create(name)
    assert names(listing(graph, **{"$filter": "startswith(displayName,'ALPHA')"})) == [
        "Alpha-one", "alpha-two"]
    assert names(listing(graph, **{"$filter": "startswith( displayName , 'beta' )"})) == ["beta"]


def test_startswith_on_service_principals(graph):
    for name in ("sp-alpha", "sp-beta"):
        create_sp(graph, graph.create(name))
    assert names(listing(graph, "servicePrincipals",
                         **{"$filter": "startswith(displayName,'sp-a')"})) == ["sp-alpha"]


def test_eq_on_display_name_and_app_id_combined_with_and(graph):
    one, _ = graph.create("same"), graph.create("same")
    assert names(listing(graph, **{"$filter": "displayName eq 'SAME'"})) == ["same", "same"]
    found = listing(graph, **{"$filter": f"appId eq '{one['appId']}' and displayName eq 'same'"})
    assert [a["id"] for a in found.json["value"]] == [one["id"]]
    assert listing(graph, **{"$filter": f"appId eq '{one['appId']}' and "
                                        "startswith(displayName,'other')"}).json["value"] == []


def test_in_or_and_parentheses(graph):
    a, b, _ = graph.create("a"), graph.create("b"), graph.create("c")
    found = listing(graph, **{"$filter": f"appId in ('{a['appId']}', '{b['appId'].upper()}')"})
    assert names(found) == ["a", "b"]
    clause = f"(displayName eq 'c' or appId eq '{a['appId']}') and startswith(displayName,'a')"
    assert names(listing(graph, **{"$filter": clause})) == ["a"]


def test_any_lambda_with_eq_and_startswith(graph):
    graph.create("uri", identifierUris=["api://query-me"])
    graph.create("other", identifierUris=["https://other"])
    assert names(listing(graph, **{"$filter": "identifierUris/any(u:startswith(u,'api://'))"})) \
        == ["uri"]
    assert names(listing(graph, **{"$filter": "identifierUris/any(s:s eq 'https://OTHER')"})) \
        == ["other"]


@pytest.mark.parametrize("clause,operator", [("displayName ne 'X-APP'", "ne"),
                                             ("not startswith(displayName,'x')", "not")])
def test_ne_and_not_are_advanced_queries(graph, clause, operator):
    graph.create("x-app")
    graph.create("kept")
    response = listing(graph, **{"$filter": clause})
    assert_error(response, 400, "Request_UnsupportedQuery", ADVANCED_MESSAGE.format(operator))
    # With the header alone still refused: advanced queries also need $count=true.
    assert listing(graph, headers=EVENTUAL, **{"$filter": clause}).status == 400
    found = listing(graph, headers=EVENTUAL, **{"$filter": clause, "$count": "true"})
    assert "kept" in names(found) and "x-app" not in names(found)


def test_ends_with_is_refused_as_graph_refuses_it(graph):
    clause = "endsWith(displayName,'x')"
    assert_error(listing(graph, **{"$filter": clause}), 400, "Request_UnsupportedQuery",
                 ADVANCED_MESSAGE.format("endsWith"))
    assert_error(listing(graph, headers=EVENTUAL, **{"$filter": clause, "$count": "true"}), 400,
                 "Request_UnsupportedQuery", "Unsupported or invalid query filter clause "
                 "specified for property 'displayName' of resource 'Application'.")


@pytest.mark.parametrize("clause", [
    "appId eq", "appId eq 'x' and", "appId in ()", "appId in ('a'", "startswith(displayName)",
    "startswith(displayName, 3)", "displayName eq 'unterminated", "appId eq 00000000-0000",
    "appId gt 'a'", "createdDateTime ge 2021-01-01", "identifierUris/all(x:x eq 'a')",
    "keyCredentials/any(x:x eq 'a')", "contains(displayName,'a')", "'a' eq displayName",
    "(" * 2000 + "appId eq 'a'" + ")" * 2000, "not " * 500 + "appId eq 'a'", "appId eq 'a' )",
    "appId eq 'a' $ b", "\u00e9t\u00e9 eq 'x'", "appId  eq  'a' or",
])
def test_malformed_or_unsupported_filters_are_400_never_500(graph, clause):
    for headers, extra in ((None, {}), (EVENTUAL, {"$count": "true"})):
        response = listing(graph, headers=headers, **{"$filter": clause, **extra})
        assert response.status == 400, (clause, response.json)
        assert response.json["error"]["code"] in ("BadRequest", "Request_UnsupportedQuery")


# --- $top and paging ---

def follow(graph, first):
    """Every page, following @odata.nextLink as az does (an absolute URL on Graph's origin)."""
    pages, response = [], first
    while True:
        assert response.status == 200, response.json
        pages.append(response.json)
        link = response.json.get("@odata.nextLink")
        if link is None:
            return pages
        assert link.startswith(ORIGIN + "/v1.0/")
        parts = urllib.parse.urlsplit(link)
        query = dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
        response = graph.call("GET", parts.path, query=query)


def test_top_pages_with_next_link_keeping_the_query(graph):
    created = {graph.create(f"paged-{i}")["id"] for i in range(5)}
    graph.create("not-paged")
    pages = follow(graph, listing(graph, **{"$top": "2", "$filter": "startswith(displayName,"
                                                                    "'paged-')"}))
    assert [len(p["value"]) for p in pages] == [2, 2, 1]
    assert {a["id"] for p in pages for a in p["value"]} == created
    assert "%24filter=startswith%28displayName%2C%27paged-%27%29" in pages[0]["@odata.nextLink"] \
        or "$filter=startswith(displayName,'paged-')" in urllib.parse.unquote(
            pages[0]["@odata.nextLink"])


def test_objects_added_between_pages_are_not_repeated(graph):
    for i in range(3):
        graph.create(f"moving-{i}")
    first = listing(graph, **{"$top": "2"})
    graph.create("moving-late")
    pages = follow(graph, first)
    seen = [a["id"] for p in pages for a in p["value"]]
    assert len(pages) >= 2 and len(seen) == len(set(seen)) and len(seen) >= 3


def test_default_page_holds_100(graph):
    for i in range(101):
        graph.create(f"many-{i:03}")
    pages = follow(graph, listing(graph))
    assert [len(p["value"]) for p in pages] == [100, 1]


@pytest.mark.parametrize("top", ["0", "1000", "-1", "two", ""])
def test_top_out_of_range_is_400(graph, top):
    assert_error(listing(graph, **{"$top": top}), 400, "Request_BadRequest",
                 f"Invalid page size specified: '{top}'. Must be between 1 and 999 inclusive.")


@pytest.mark.parametrize("token", ["garbage", "ZW50cmFjZXJ0Om5vdC1hLWd1aWQ", "%%%"])
def test_unreadable_skiptoken_is_400(graph, token):
    assert_error(listing(graph, **{"$skiptoken": token}), 400, "Directory_ExpiredPageToken")


# --- $count ---

def test_count_in_a_listing_needs_consistency_level(graph):
    for i in range(3):
        graph.create(f"counted-{i}")
    query = {"$count": "true", "$top": "1", "$filter": "startswith(displayName,'counted-')"}
    counted = listing(graph, headers=EVENTUAL, **query).json
    assert counted["@odata.count"] == 3 and len(counted["value"]) == 1
    # Without the header Graph silently ignores $count=true (aad-advanced-queries.md).
    assert "@odata.count" not in listing(graph, **query).json


@pytest.mark.parametrize("collection", ["applications", "servicePrincipals"])
def test_count_segment_is_plain_text_and_needs_consistency_level(graph, collection):
    app = graph.create("count-me")
    create_sp(graph, app)
    response = graph.call("GET", f"/v1.0/{collection}/$count", headers=EVENTUAL,
                          query={"$filter": "startswith(displayName,'count-')"})
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    assert response.body == b"1"
    assert_error(graph.call("GET", f"/v1.0/{collection}/$count"), 400, "Request_BadRequest",
                 "$count is not currently supported.")
    assert graph.call("POST", f"/v1.0/{collection}/$count", {}, headers=EVENTUAL).status == 405


@pytest.mark.parametrize("value", ["yes", "1"])
def test_count_must_be_true_or_false(graph, value):
    assert listing(graph, headers=EVENTUAL, **{"$count": value}).status == 400


# --- $select ---

def test_select_on_a_listing_and_on_one_object(graph):
    app = graph.create("selected")
    listed = listing(graph, **{"$select": "displayName,APPID", "$filter": "displayName eq "
                                                                          "'selected'"}).json
    assert listed["@odata.context"] == f"{ORIGIN}/v1.0/$metadata#applications(displayName,appId)"
    assert listed["value"] == [{"displayName": "selected", "appId": app["appId"]}]
    one = graph.call("GET", f"/v1.0/applications/{app['id']}",
                     query={"$select": "id,optionalClaims"}).json
    assert {k: v for k, v in one.items() if k != "@odata.context"} == {
        "id": app["id"], "optionalClaims": None}  # known to Graph, not kept: null, as Graph
    sp = create_sp(graph, app)
    assert set(graph.call("GET", f"/v1.0/servicePrincipals/{sp['id']}",
                          query={"$select": "appId,accountEnabled"}).json) == {
        "@odata.context", "appId", "accountEnabled"}


@pytest.mark.parametrize("path", ["/v1.0/applications", "/v1.0/servicePrincipals"])
def test_select_of_an_unknown_property_is_400(graph, path):
    response = graph.call("GET", path, query={"$select": "id,nonsense"})
    assert_error(response, 400, "BadRequest")
    assert "Could not find a property named 'nonsense' on type 'microsoft.graph." in \
        response.json["error"]["message"]


# --- other options ---

def test_search_without_consistency_level_gets_graphs_message(graph):
    assert_error(listing(graph, **{"$search": '"displayName:x"'}), 400,
                 "Request_UnsupportedQuery", "Request with $search query parameter only works "
                 "through MSGraph with a special request header: 'ConsistencyLevel: eventual'")


@pytest.mark.parametrize("option", ["$orderby", "$expand", "$skip", "$search", "$nonsense"])
def test_unsupported_options_are_400_in_graphs_envelope(graph, option):
    response = listing(graph, headers=EVENTUAL, **{option: "displayName", "$count": "true"})
    assert response.status == 400
    assert response.json["error"]["code"] in ("BadRequest", "Request_UnsupportedQuery")
    assert set(response.json["error"]["innerError"]) == {"date", "request-id",
                                                        "client-request-id"}


def test_plain_query_parameters_are_ignored(graph):
    assert listing(graph, **{"api-version": "1.0"}).status == 200


# --- over real HTTPS: a client follows the nextLink the emulator gives ---

def test_next_link_is_followed_over_https(emulator, trust_emulator):
    import requests

    token = admin_token(emulator)
    prefix = f"https-paged-{emulator.port}-"
    headers = {"Authorization": f"Bearer {token}"}
    for i in range(3):
        created = requests.post(f"{emulator.graph_endpoint}/v1.0/applications", headers=headers,
                                json={"displayName": f"{prefix}{i}"}, timeout=10)
        assert created.status_code == 201
    url = f"{emulator.graph_endpoint}/v1.0/applications"
    params = {"$filter": f"startswith(displayName,'{prefix}')", "$top": "2", "$count": "true"}
    seen, pages = [], 0
    while url:
        response = requests.get(url, params=params, timeout=10,
                                headers={**headers, "ConsistencyLevel": "eventual"})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["@odata.count"] == 3
        seen += [a["displayName"] for a in body["value"]]
        url, params, pages = body.get("@odata.nextLink"), None, pages + 1
    assert sorted(seen) == [f"{prefix}{i}" for i in range(3)] and pages == 2
