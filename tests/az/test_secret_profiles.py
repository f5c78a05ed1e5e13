"""Profiles over a client secret (development and testing) through the real az with the
wheel-installed extension, against the emulator: tokens through the same cache and commands, the
daily nudge toward certificates, and the errors a user meets."""
import json
from pathlib import Path

import pytest

from .conftest import assert_clean_failure
from .conftest import create_profile as create

NUDGE = "signs in with a client secret"


@pytest.fixture
def dev_app(make_app, emulator, request):
    """A fresh application with a client secret; (app, secret)."""
    app = make_app(f"az-secret-profile-{request.node.name[:16]}")
    return app, emulator.add_client_secret(app.app_id)


@pytest.fixture
def own_config(tmp_path):
    """A config folder of this test's own, so the once-a-day nudge starts unseen."""
    return {"AZURE_CONFIG_DIR": str(tmp_path / "config")}


def test_a_secret_profile_gets_tokens_and_nudges_once_a_day(az, emulator, dev_app, own_config):
    app, secret = dev_app
    env = {**own_config, "DEV_SECRET": secret}
    made = create(az, emulator, "dev", app.app_id, "--client-secret-env", "DEV_SECRET", env=env)
    assert made.out["clientSecretEnv"] == "DEV_SECRET" and made.out["thumbprint"] is None
    assert NUDGE in made.stderr and "az entracert cert create" in made.stderr
    assert "az entracert app cert add --profile dev" in made.stderr

    got = az("entracert", "token", "get", "--profile", "dev", env=env)
    claims = emulator.verify_access_token(got.out["accessToken"])
    assert got.out["source"] == "network" and claims["appid"] == app.app_id
    assert claims["appidacr"] == "1"  # obtained with the secret
    assert NUDGE not in got.stderr  # the same day: said once
    again = az("entracert", "token", "get", "--profile", "dev", env=env)
    assert again.out["source"] == "cache" and again.out["accessToken"] == got.out["accessToken"]
    debug = az("entracert", "token", "get", "--profile", "dev", "--force-refresh", "--debug",
               env=env)
    assert debug.out["source"] == "network" and "msal" in debug.stderr.lower()
    assert secret not in debug.stderr

    lines = az("entracert", "audit", "list", env=env).out
    assert [line["credential"] for line in lines] == ["client-secret"] * 2
    assert lines[0]["thumbprintSha256"] is None
    folder = Path(own_config["AZURE_CONFIG_DIR"]) / "entracert"
    for path in folder.rglob("*"):
        if path.is_file():
            assert secret not in path.read_text(errors="replace"), path
    assert secret not in made.stderr + got.stderr + json.dumps(made.out)


def test_only_show_errors_hides_the_nudge(az, emulator, dev_app, own_config):
    app, secret = dev_app
    env = {**own_config, "DEV_SECRET": secret}
    made = create(az, emulator, "quiet", app.app_id, "--client-secret-env", "DEV_SECRET",
                  "--only-show-errors", env=env)
    assert "WARNING" not in made.stderr and made.out["name"] == "quiet"


def test_secret_profile_errors_name_the_source_and_the_fix(az, emulator, dev_app, own_config,
                                                           tmp_path):
    app, secret = dev_app
    unset = create(az, emulator, "unset", app.app_id, "--client-secret-env", "NO_SUCH_SECRET",
                   env=own_config, check=False)
    assert_clean_failure(unset, "NO_SUCH_SECRET", "not set")
    both = create(az, emulator, "both", app.app_id, "--client-secret-env", "DEV_SECRET",
                  "--certificate", app.pem_path, env=own_config, check=False)
    assert_clean_failure(both, "--client-secret-env")
    path = tmp_path / "secret.txt"
    path.write_text(secret + "\n")
    path.chmod(0o644)
    shared = create(az, emulator, "shared", app.app_id, "--client-secret-file", path,
                    env=own_config, check=False)
    assert_clean_failure(shared, "chmod 600")

    wrong = {**own_config, "DEV_SECRET": "not-the-secret-" + "x" * 24}
    create(az, emulator, "wrong", app.app_id, "--client-secret-env", "DEV_SECRET", env=wrong)
    refused = az("entracert", "token", "get", "--profile", "wrong", env=wrong, check=False)
    assert_clean_failure(refused, "AADSTS7000215", "environment variable DEV_SECRET",
                         "az entracert app secret add --profile wrong")
    for result in (unset, both, shared, refused):
        assert secret not in result.stderr
