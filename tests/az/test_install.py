"""The extension installs from its wheel into the real az the way users install extensions."""
import pytest

CERT_COMMANDS = ("create", "csr", "assemble", "show", "validate", "convert", "rotate",
                 "check-revocation")
# Every command of the extension, as az spells it after "az entracert".
COMMANDS = ([("cert", c) for c in CERT_COMMANDS]
            + [("profile", c) for c in ("create", "list", "show", "update", "delete",
                                        "set-default", "export", "import")]
            + [("token", c) for c in ("get", "refresh", "inspect", "clear")]
            + [("audit", "list")]
            + [("app", c) for c in ("create", "show", "list", "delete")]
            + [("app", "permission", c) for c in ("add", "list", "remove")]
            + [("app", "cert", c) for c in ("list", "add", "remove", "expiring")]
            + [("app", "secret", c) for c in ("add", "list", "remove")]
            + [("store", c) for c in ("import", "list", "show", "remove")]
            + [("emulator", c) for c in ("start", "status", "show", "stop")])
# azure-cli-core brings these; a second copy in the extension folder would shadow az's own.
AZ_PROVIDED = ("msal", "msal_extensions", "cryptography", "jwt", "requests", "portalocker")


def test_extension_folder_holds_only_our_packages(az_extension):
    """`az extension add` pip-installs the wheel *with its requirements*: none may be dragged in."""
    folder = az_extension.extension_dir / "entracert"
    entries = {p.name for p in folder.iterdir()}
    assert {"azext_entracert", "pytest_entracert"} <= entries
    assert not [name for name in entries if name.split("-")[0].lower() in AZ_PROVIDED]
    dist_infos = [name for name in entries if name.endswith(".dist-info")]
    assert len(dist_infos) == 1 and dist_infos[0].startswith("entracert-")
    # Besides our packages there is only the wheel az keeps as the install record.
    ours = {"azext_entracert", "pytest_entracert", *dist_infos}
    assert entries - ours == {az_extension.wheel.name}


def test_extension_list_shows_entracert(az):
    listed = {ext["name"]: ext for ext in az("extension", "list").out}
    assert listed["entracert"]["version"] == "0.1.0"
    assert listed["entracert"]["preview"] is True


@pytest.mark.parametrize("group", [("entracert",), ("entracert", "cert")])
def test_group_help_lists_what_is_inside(az, group):
    text = az(*group, "--help").out
    assert "Group" in text and "az " + " ".join(group) in text
    expected = ("cert",) if group == ("entracert",) else CERT_COMMANDS
    for name in expected:
        assert f"{name} " in text


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_command_help_documents_every_option_and_has_an_example(az, command):
    text = az("entracert", *command, "--help").out
    arguments = text.split("\nArguments\n", 1)[1].split("\n\n", 1)[0]
    options = [line.strip() for line in arguments.splitlines() if line.startswith("    -")]
    assert options, text
    for line in options:
        name, _, description = line.partition(" : ")
        assert name.startswith("--") and description.strip(), (
            f"undocumented or short option: {line}")
    examples = text.split("Examples", 1)
    assert len(examples) == 2, text
    assert f"az entracert {' '.join(command)} " in examples[1]
