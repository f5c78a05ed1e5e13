"""A cache hit costs no more than reading a profile (issue 14): ``tokens.acquire`` reads MSAL's
token cache itself (``cache.msal_cache_hit``), imports no MSAL, requests or cryptography and sends
nothing, and answers exactly what MSAL's ``acquire_token_for_client`` answers from the same cache.

The equivalence is checked against real MSAL over generated caches; MSAL learns its authority from
the emulator's discovery document, and a client assertion that raises marks the moment MSAL would
ask Entra, so nothing is ever sent.
"""
import json
import os
import random
import subprocess
import sys
import time

import pytest

from azext_entracert.core import cache, profiles, tokens

HEAVY = ("msal", "requests", "cryptography", "jwt")


def token_requests(emulator):
    return [r for r in emulator.requests_log() if r["path"].endswith("/oauth2/v2.0/token")]


def cache_path(directory, profile):
    return cache.TokenCache(directory, tokens.identity(profile)).path


# --- The fast path in a new process -------------------------------------------------------------

HIT_LIKE_TOKEN_GET = """
import json, sys
from azext_entracert.core import profiles, tokens
chosen = profiles.ProfileStore().resolve("fast")
token = tokens.acquire(chosen, tokens.scopes_for(chosen, resource=sys.argv[1]))
heavy = sorted({m.split(".")[0] for m in sys.modules} & set(sys.argv[2:]))
print(json.dumps({"source": token.source, "expires_on": token.expires_on, "heavy": heavy}))
"""


def test_a_cache_hit_in_a_new_process_imports_nothing_heavy_and_sends_nothing(
        emulator, make_app, profile_for, tmp_path):
    """What ``az entracert token get`` does (custom_tokens.token_get), in a fresh interpreter."""
    env = {**{k: v for k, v in os.environ.items() if k != "REQUESTS_CA_BUNDLE"},
           "AZURE_CONFIG_DIR": str(tmp_path)}
    store = profiles.ProfileStore(tmp_path / "entracert")
    store.add(profile_for(make_app("fast-new-process"), name="fast"))

    def token_get():
        result = subprocess.run(
            [sys.executable, "-c", HIT_LIKE_TOKEN_GET, "https://management.azure.com", *HEAVY],
            env=env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    cold = token_get()
    assert cold["source"] == "network"
    emulator.clear_log()
    hit = token_get()
    assert hit == {"source": "cache", "expires_on": cold["expires_on"], "heavy": []}
    assert emulator.requests_log() == []


def test_profile_store_and_identity_import_nothing_heavy(make_app, profile_for, tmp_path):
    store = profiles.ProfileStore(tmp_path)
    store.add(profile_for(make_app("fast-identity"), name="light"))
    code = ("import json, sys\nfrom azext_entracert.core import profiles, tokens\n"
            f"p = profiles.ProfileStore({str(tmp_path)!r}).resolve('light')\n"
            "tokens.identity(p)\nprint(json.dumps(sorted(sys.modules)))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, timeout=120)
    loaded = json.loads(result.stdout)
    assert [m for m in loaded if m.split(".")[0] in HEAVY] == []


# --- expires_on is one value ------------------------------------------------------------------

def test_expires_on_is_the_cache_entrys_on_the_network_result_and_on_later_hits(
        make_app, profile_for, entra_dir):
    """It used to be computed from two clocks (ours before the request, MSAL's after it), so it
    differed by a second whenever the request crossed a second boundary: start just before one."""
    profile = profile_for(make_app("fast-expires-on"))
    while time.time() % 1 < 0.9:
        time.sleep(0.02)
    cold = tokens.acquire(profile, directory=entra_dir)
    (entry,) = json.loads(cache_path(entra_dir, profile).read_text())["AccessToken"].values()
    assert cold.source == "network" and cold.expires_on == int(entry["expires_on"])
    hit = tokens.acquire(profile, directory=entra_dir)
    assert hit.source == "cache" and hit.expires_on == cold.expires_on


def test_a_callers_clock_shifts_expires_on_but_not_msals_lookup(emulator, make_app, profile_for,
                                                                  entra_dir):
    """The pytest plugin's tests move its clock: ``expires_on`` follows it, in whole seconds;
    whether the cache answers stays MSAL's decision, on the real clock (3400 s later by the
    moved clock, MSAL still serves the token)."""
    profile = profile_for(make_app("fast-clock"))
    cold = tokens.acquire(profile, directory=entra_dir)
    emulator.clear_log()
    moved = tokens.acquire(profile, directory=entra_dir, now=time.time() + 3400)
    assert (moved.source, moved.token) == ("cache", cold.token)
    assert moved.expires_on == cold.expires_on + 3400
    assert emulator.requests_log() == []


# --- Where the fast path steps aside for MSAL ------------------------------------------------

def edit_entries(path, **fields):
    document = json.loads(path.read_text())
    for entry in document["AccessToken"].values():
        entry.update({k: str(v) for k, v in fields.items()})
    path.write_text(json.dumps(document))


def test_a_token_past_its_refresh_on_is_refreshed_by_msal(emulator, make_app, profile_for,
                                                          entra_dir):
    profile = profile_for(make_app("fast-refresh-on"))
    first = tokens.acquire(profile, directory=entra_dir)
    edit_entries(cache_path(entra_dir, profile), refresh_on=int(time.time()) - 10)
    emulator.clear_log()
    second = tokens.acquire(profile, directory=entra_dir)
    assert second.source == "network" and second.token != first.token
    assert len(token_requests(emulator)) == 1


@pytest.mark.parametrize("left", [60, 299])
def test_a_token_within_five_minutes_of_expiry_is_not_served(emulator, make_app, profile_for,
                                                            entra_dir, left):
    profile = profile_for(make_app(f"fast-expiring-{left}"))
    tokens.acquire(profile, directory=entra_dir)
    edit_entries(cache_path(entra_dir, profile), expires_on=int(time.time()) + left)
    emulator.clear_log()
    assert tokens.acquire(profile, directory=entra_dir).source == "network"
    assert len(token_requests(emulator)) == 1


def test_a_cache_written_before_the_fast_path_is_answered_by_msal_then_by_the_fast_path(
        emulator, make_app, profile_for, entra_dir):
    """Files of the previous version lack the authority MSAL resolved: MSAL answers (no request)
    and the record is completed, so the next hit needs no MSAL."""
    profile = profile_for(make_app("fast-old-file"))
    first = tokens.acquire(profile, directory=entra_dir)
    path = cache_path(entra_dir, profile)
    document = json.loads(path.read_text())
    del document[cache.IDENTITY_KIND]["identity"]["authority"]
    path.write_text(json.dumps(document))
    store = cache.TokenCache(entra_dir, tokens.identity(profile))
    assert store.cached(client_id=profile.client_id, scopes=profile.default_scopes,
                        now=time.time()) is None
    emulator.clear_log()
    again = tokens.acquire(profile, directory=entra_dir)
    assert (again.source, again.token, again.expires_on) == ("cache", first.token,
                                                             first.expires_on)
    assert emulator.requests_log() == []
    assert store.cached(client_id=profile.client_id, scopes=profile.default_scopes,
                        now=time.time())["secret"] == first.token


def test_a_forced_refresh_skips_the_fast_path(emulator, make_app, profile_for, entra_dir):
    profile = profile_for(make_app("fast-force"))
    first = tokens.acquire(profile, directory=entra_dir)
    emulator.clear_log()
    forced = tokens.acquire(profile, directory=entra_dir, force=True)
    assert forced.source == "network" and forced.token != first.token
    assert len(token_requests(emulator)) == 1


# --- Exactly MSAL's answer ------------------------------------------------------------------

SCOPES = ["https://graph.microsoft.com/.default", "api://one/read", "api://one/write",
          "https://management.azure.com/.default"]
OFFSETS = [-3600, -30, 30, 240, 290, 310, 360, 1800, 3600]  # seconds from now, 300 s is MSAL's line


class WouldAskEntra(Exception):
    """Raised by the client assertion: MSAL decided to send a token request."""


def msal_answer(emulator, http_cache, document, client_id, scopes):
    """The token MSAL's acquire_token_for_client answers from ``document`` (None: it would ask
    Entra), and the (environment, realm) it looked under."""
    import msal

    from azext_entracert.core.http import HttpClient

    token_cache = msal.SerializableTokenCache()
    token_cache.deserialize(json.dumps(document))

    def assertion():
        raise WouldAskEntra

    app = msal.ConfidentialClientApplication(
        client_id, client_credential={"client_assertion": assertion},
        authority=f"{emulator.authority_host}/{emulator.tenant_id}", token_cache=token_cache,
        http_client=HttpClient(ca_bundle=emulator.ca_bundle), http_cache=http_cache,
        instance_discovery=False)
    try:
        result = app.acquire_token_for_client(scopes)
    except WouldAskEntra:
        return None, app.authority
    assert result["token_source"] == "cache", result
    return result["access_token"], app.authority


def vary_case(rng, text):
    return "".join(c.upper() if rng.random() < 0.3 else c for c in text)


def generated_cache(rng, clients, environments, realms, now):
    """An MSAL cache document with entries of several clients, hosts and tenants, filed under
    MSAL's key (mostly) or another, some for users, some with an extended cache key."""
    entries = {}
    for number in range(rng.randint(0, 10)):
        target = rng.sample(SCOPES, rng.randint(1, 3))
        if rng.random() < 0.3:
            target = [vary_case(rng, scope) for scope in target]
        entry = {"credential_type": "AccessToken", "secret": f"token-{number}",
                 "home_account_id": rng.choice([None] * 6 + ["uid.utid"]),
                 "environment": rng.choice(environments),
                 "client_id": rng.choice(clients[:1] * 4 + clients),
                 "realm": rng.choice(realms), "target": " ".join(sorted(target)),
                 "token_type": "Bearer", "cached_at": str(now - 60),
                 "expires_on": str(now + rng.choice(OFFSETS)),
                 "extended_expires_on": str(now + 7200)}
        if rng.random() < 0.3:
            entry["refresh_on"] = str(now + rng.choice([-600, -30, 600, 1800]))
        if rng.random() < 0.05:
            del entry["home_account_id"]
        if rng.random() < 0.1:
            entry["ext_cache_key"] = "fmipath"
        key = "-".join([entry.get("home_account_id") or "", entry["environment"], "AccessToken",
                        entry["client_id"], entry["realm"], entry["target"]]).lower()
        entries[key if rng.random() < 0.8 else f"other-key-{number}"] = entry
    return {"AccessToken": entries}


def test_the_fast_path_answers_exactly_what_msal_answers(emulator):
    rng = random.Random(14)
    http_cache = {}  # one discovery for every MSAL app below
    client = "11111111-2222-3333-4444-555555555555"
    clients = [client, client.upper(), "66666666-7777-8888-9999-000000000000"]
    _, authority = msal_answer(emulator, http_cache, {}, client, SCOPES[:1])
    # Lists weighted towards what the app looks under, so that hits are common too.
    environments = [authority.instance] * 6 + [authority.instance.upper(),
                                               "login.microsoftonline.com"]
    realms = [authority.tenant] * 6 + [authority.tenant.upper(), "contoso.onmicrosoft.com",
                                       "72f988bf-86f1-41af-91ab-2d7cd011db47"]
    outcomes = {"hit": 0, "miss": 0}
    for _ in range(150):
        now = int(time.time())
        document = generated_cache(rng, clients, environments, realms, now)
        for _ in range(3):
            client_id = rng.choice(clients[:1] * 3 + clients)
            scopes = [vary_case(rng, s) if rng.random() < 0.2 else s
                      for s in rng.sample(SCOPES, rng.randint(1, 2))]
            expected, _ = msal_answer(emulator, http_cache, document, client_id, scopes)
            entry = cache.msal_cache_hit(document, client_id=client_id, scopes=scopes,
                                         environment=authority.instance, realm=authority.tenant,
                                         now=time.time())
            assert (entry and entry["secret"]) == expected, (document, client_id, scopes)
            outcomes["hit" if expected else "miss"] += 1
    assert min(outcomes.values()) >= 50, outcomes  # both answers well represented
