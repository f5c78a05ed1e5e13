"""``az entracert profile update`` moves a profile to a client secret and back to a certificate
(the way out the daily nudge recommends), through the real az with the wheel-installed extension
against the emulator; options of another kind and an unset secret are refused, the profile left
as it was."""
import json
from pathlib import Path

from .conftest import assert_clean_failure
from .conftest import create_profile as create

NUDGE = "signs in with a client secret"


def test_update_switches_a_certificate_profile_to_a_client_secret_and_back(az, emulator,
                                                                           make_app, tmp_path):
    app = make_app("az-update-kinds")
    env = {"AZURE_CONFIG_DIR": str(tmp_path / "config"),  # the nudge not yet seen today
           "DEV_SECRET": emulator.add_client_secret(app.app_id)}
    stored = Path(env["AZURE_CONFIG_DIR"]) / "entracert" / "profiles.json"
    create(az, emulator, "moving", app.app_id, "--certificate", app.pem_path, env=env)

    to_secret = az("entracert", "profile", "update", "--name", "moving", "--client-secret-env",
                   "DEV_SECRET", env=env)
    assert to_secret.out["clientSecretEnv"] == "DEV_SECRET"
    assert (to_secret.out["certificate"], to_secret.out["thumbprint"]) == (None, None)
    assert NUDGE in to_secret.stderr and "az entracert cert create" in to_secret.stderr
    got = az("entracert", "token", "get", "--profile", "moving", env=env).out
    claims = emulator.verify_access_token(got["accessToken"])
    assert got["source"] == "network" and claims["appid"] == app.app_id
    assert claims["appidacr"] == "1"  # obtained with the secret

    before = stored.read_bytes()
    foreign = az("entracert", "profile", "update", "--name", "moving", "--pin-env", "PIN",
                 env=env, check=False)
    assert_clean_failure(foreign, "--pin-env cannot be used with profile 'moving', which signs "
                                  "in with client secret in environment variable DEV_SECRET")
    unset = az("entracert", "profile", "update", "--name", "moving", "--client-secret-env",
               "NO_SUCH_SECRET", env=env, check=False)
    assert_clean_failure(unset, "NO_SUCH_SECRET", "not set")
    both = az("entracert", "profile", "update", "--name", "moving", "--client-secret-file",
              "s.txt", "--certificate", app.pem_path, env=env, check=False)
    assert_clean_failure(both, "--certificate and --client-secret-file cannot be used together")
    assert stored.read_bytes() == before

    back = az("entracert", "profile", "update", "--name", "moving", "--certificate",
              app.pem_path, env=env)
    assert back.out["certificate"] == app.pem_path and back.out["thumbprint"]
    assert back.out["clientSecretEnv"] is None and NUDGE not in back.stderr
    assert "client_secret_env" not in json.loads(stored.read_text())["profiles"]["moving"]
    again = az("entracert", "token", "get", "--profile", "moving", env=env).out
    assert again["source"] == "network"  # a certificate never meets the secret's cached token
    assert emulator.verify_access_token(again["accessToken"])["appidacr"] == "2"
