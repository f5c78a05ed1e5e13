"""Client secrets against the emulator: real TLS, real Graph addPassword/removePassword.

The az tests (tests/az/test_secret_commands.py) cover what a user sees; here, the one case az
cannot stage: the secret file cannot be written after Graph made the secret.
"""
import contextlib
import os
import subprocess

import pytest

from azext_entracert.core import audit, client_secrets, lifecycle, profiles
from azext_entracert.core.errors import OutputError


@contextlib.contextmanager
def refusing_new_files(folder):
    """``folder`` refuses new files: read-only for a user, immutable for root (who ignores
    modes); skips where neither is possible."""
    if os.geteuid() != 0:
        folder.chmod(0o500)
        try:
            yield
        finally:
            folder.chmod(0o700)
        return
    if subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode != 0:
        pytest.skip("root, and chattr +i is not available here: no folder can refuse a file")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True)


def test_a_secret_that_cannot_be_written_is_removed_again(emulator, make_app, tmp_path):
    app = make_app("secret-undo")
    admin = profiles.new_profile("admin", tenant=emulator.tenant_id,
                                 client_id=emulator.admin["client_id"],
                                 certificate=emulator.admin["certificate"],
                                 authority_host=emulator.authority_host,
                                 ca_bundle=emulator.ca_bundle)
    graph = lifecycle.admin_graph(admin, directory=tmp_path)
    folder = tmp_path / "out"
    folder.mkdir()
    with refusing_new_files(folder), pytest.raises(OutputError):
        client_secrets.add(graph, app.app_id, out=folder / "secret.txt", directory=tmp_path)
    assert not list(folder.iterdir())
    assert emulator.application(app.app_id)["passwordCredentials"] == []  # nobody could read it
    [entry] = [e for e in audit.read(tmp_path) if e["action"] == "app-secret-add"]
    assert entry["outcome"] == "failure" and entry["detail"].endswith("removed it again")
    assert entry["actor"]["name"] == "admin" and entry["appId"] == app.app_id
