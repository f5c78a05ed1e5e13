"""``az entracert store``: the certificate store through the real az, as a user drives it."""
import json
import stat

import pytest

from .test_prompt import CTRL_D, run_on_terminal

SECRET = "store-secret-42"


@pytest.fixture
def store_az(az, tmp_path):
    """az with a config dir of this test's own, so each test starts with an empty store."""
    config = tmp_path / "config"

    def run(*args, env=None, check=True):
        return az(*args, env={"AZURE_CONFIG_DIR": str(config), "PFX_PW": SECRET, **(env or {})},
                  check=check)

    run.store = config / "entracert" / "store"
    return run


@pytest.fixture
def stored(store_az):
    """A password-protected PFX made by 'cert create' and imported with --password-env."""
    store_az("entracert", "cert", "create", "--subject", "CN=stored", "--out", "app.pfx",
             "--password-env", "PFX_PW")
    return store_az("entracert", "store", "import", "--file", "app.pfx", "--password-env",
                    "PFX_PW").out


def _colons(hex_text):
    return ":".join(hex_text[i:i + 2] for i in range(0, len(hex_text), 2)).lower()


def test_import_keeps_the_pfx_encrypted_and_private_and_records_only_the_variable(
        store_az, stored, tmp_path):
    assert stored["encrypted"] is True and stored["passwordEnv"] == "PFX_PW"
    assert stored["subject"] == "CN=stored" and len(stored["thumbprintSha256"]) == 64
    kept = store_az.store / f"{stored['thumbprint']}.pfx"
    assert stored["file"] == str(kept)
    assert kept.read_bytes() == (tmp_path / "app.pfx").read_bytes()
    assert stat.S_IMODE(store_az.store.stat().st_mode) == 0o700
    for file in (kept, store_az.store / "index.json"):
        assert stat.S_IMODE(file.stat().st_mode) == 0o600
    assert SECRET not in (store_az.store / "index.json").read_text()


def test_list_and_show_find_it_by_any_pasted_thumbprint(store_az, stored):
    listed = store_az("entracert", "store", "list").out
    assert [entry["thumbprint"] for entry in listed] == [stored["thumbprint"]]
    for pasted in (_colons(stored["thumbprint"]), stored["thumbprintSha256"].lower(),
                   stored["thumbprint"][:8]):
        shown = store_az("entracert", "store", "show", "--thumbprint", pasted).out
        assert shown == stored
    table = store_az("entracert", "store", "list", "-o", "table").out
    assert stored["thumbprint"] in table and "CN=stored" in table


def test_a_second_import_of_the_same_certificate_keeps_the_entry_and_says_so(store_az, stored):
    again = store_az("entracert", "store", "import", "--file", "app.pfx", "--password-env",
                     "PFX_PW")
    assert again.returncode == 0 and again.out == stored
    assert "already in the store" in again.stderr
    assert len(store_az("entracert", "store", "list").out) == 1


def test_remove_with_yes_deletes_the_entry_and_its_file(store_az, stored):
    removed = store_az("entracert", "store", "remove", "--thumbprint", stored["thumbprint"],
                       "--yes").out
    assert removed["removed"]["thumbprint"] == stored["thumbprint"]
    assert store_az("entracert", "store", "list").out == []
    assert not (store_az.store / f"{stored['thumbprint']}.pfx").exists()


def test_remove_without_a_terminal_needs_yes_and_keeps_the_entry(store_az, stored):
    result = store_az("entracert", "store", "remove", "--thumbprint", stored["thumbprint"],
                      check=False)
    assert result.returncode != 0 and "--yes" in result.stderr
    assert len(store_az("entracert", "store", "list").out) == 1


def test_ctrl_d_at_the_remove_confirmation_cancels_and_keeps_the_entry(store_az, stored, az_env,
                                                                        tmp_path):
    env = {**az_env, "AZURE_CONFIG_DIR": str(tmp_path / "config")}
    code, screen = run_on_terminal(
        ["entracert", "store", "remove", "--thumbprint", stored["thumbprint"]], env, tmp_path,
        [("(y/n)", CTRL_D)])
    assert code != 0 and "ERROR: Cancelled." in screen and "Traceback" not in screen, screen
    assert len(store_az("entracert", "store", "list").out) == 1


def test_the_password_never_shows_even_with_debug(store_az):
    store_az("entracert", "cert", "create", "--subject", "CN=quiet", "--out", "quiet.pfx",
             "--password-env", "PFX_PW")
    result = store_az("entracert", "store", "import", "--file", "quiet.pfx", "--password-env",
                      "PFX_PW", "--debug")
    assert SECRET not in result.stderr and SECRET not in json.dumps(result.out)


@pytest.mark.parametrize("args, expected", [
    (("show", "--thumbprint", "0123456789abcdef"), "no certificate with thumbprint "
                                                   "0123456789ABCDEF"),
    (("show", "--thumbprint", "12:34"), "too short"),
    (("remove", "--thumbprint", "not-a-thumbprint", "--yes"), "must be hexadecimal"),
], ids=["unknown", "short", "not-hex"])
def test_a_thumbprint_the_store_cannot_answer_is_a_clear_error(store_az, stored, args, expected):
    result = store_az("entracert", "store", *args, check=False)
    assert result.returncode == 1 and expected in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and "store list" in result.stderr


def test_a_certificate_without_its_key_is_refused_and_nothing_is_stored(store_az):
    store_az("entracert", "cert", "create", "--subject", "CN=public", "--out", "public.pfx",
             "--no-password")
    result = store_az("entracert", "store", "import", "--file", "public.cer", check=False)
    assert result.returncode == 1 and "no private key" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert store_az("entracert", "store", "list").out == []


def test_a_wrong_password_is_refused_naming_its_source(store_az, stored):
    store_az("entracert", "cert", "create", "--subject", "CN=other", "--out", "other.pfx",
             "--password-env", "PFX_PW")
    result = store_az("entracert", "store", "import", "--file", "other.pfx", "--password-env",
                      "WRONG_PW", env={"WRONG_PW": "nope"}, check=False)
    assert result.returncode == 1 and "WRONG_PW does not open" in result.stderr, result.stderr
    assert len(store_az("entracert", "store", "list").out) == 1


def test_a_damaged_index_is_named_and_left_for_repair(store_az, stored):
    index = store_az.store / "index.json"
    index.write_text("{truncated")
    result = store_az("entracert", "store", "list", check=False)
    assert result.returncode == 1 and f"'{index}' is damaged" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and index.read_text() == "{truncated"
