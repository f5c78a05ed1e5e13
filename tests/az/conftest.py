"""The real ``az`` with the entracert extension installed from its wheel, as a user installs it.

The wheel is built once per test session from a temporary copy of the tree (so no ``build/`` or
``*.egg-info`` lands in the repository) and installed with ``az extension add --source`` into a
session-wide ``AZURE_EXTENSION_DIR``. xdist workers share that one install: a file lock in the
session's shared temp root lets the first worker build while the others wait and then reuse it.
Each worker gets its own ``AZURE_CONFIG_DIR`` so parallel runs of az do not share logs or caches.
"""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import pytest

from azext_entracert.core.fileio import file_lock

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
AZ = VENV_BIN / "az"
# What is not part of the distribution, or is made by machines: never copied into the build tree.
_NOT_SOURCE = shutil.ignore_patterns(".venv", ".git", "build", "dist", "*.egg-info", "__pycache__",
                                     "tests", ".emulator", ".demo", ".pytest_cache", "*.whl",
                                     ".node")


class AzResult(NamedTuple):
    """One az run: exit code, stdout (parsed JSON when it is JSON, else text) and stderr."""

    returncode: int
    out: object
    stderr: str


class InstalledExtension(NamedTuple):
    wheel: Path
    extension_dir: Path


def _shared_root(tmp_path_factory):
    # Under xdist every worker has its own basetemp inside one per-session folder.
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def _az_env(extension_dir, config_dir):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AZURE_CORE_", "AZURE_EXTENSION"))}
    env.update(
        AZURE_EXTENSION_DIR=str(extension_dir),
        AZURE_CONFIG_DIR=str(config_dir),
        AZURE_CORE_COLLECT_TELEMETRY="false",
        AZURE_CORE_NO_COLOR="1",
        AZURE_CORE_SURVEY_MESSAGE="false",
        # An unknown command must fail, not look up an extension to install over the network.
        AZURE_EXTENSION_USE_DYNAMIC_INSTALL="no",
    )
    return env


def _build_and_install(shared):
    shutil.rmtree(shared, ignore_errors=True)  # a worker that failed before may have left half
    source, dist, extensions = shared / "src", shared / "dist", shared / "extensions"
    shutil.copytree(REPO, source, ignore=_NOT_SOURCE)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "--quiet", "--wheel-dir", str(dist), str(source)], check=True)
    (wheel,) = dist.glob("entracert-*.whl")
    subprocess.run([str(AZ), "extension", "add", "--source", str(wheel), "--yes"],
                   env=_az_env(extensions, shared / "install-config"), check=True,
                   stdin=subprocess.DEVNULL, capture_output=True)
    return wheel, extensions


@pytest.fixture(scope="session")
def az_extension(tmp_path_factory):
    """The wheel and the ``AZURE_EXTENSION_DIR`` where az installed it (once per session)."""
    shared = _shared_root(tmp_path_factory) / "az-extension"
    with file_lock(shared, timeout=300):
        done = shared / "installed.json"
        if not done.exists():
            wheel, extensions = _build_and_install(shared)
            done.write_text(json.dumps({"wheel": str(wheel), "extensions": str(extensions)}))
        paths = json.loads(done.read_text())
    return InstalledExtension(Path(paths["wheel"]), Path(paths["extensions"]))


@pytest.fixture(scope="session")
def az_env(az_extension, tmp_path_factory):
    """Environment for running az: the installed extension and this worker's own config dir."""
    return _az_env(az_extension.extension_dir, tmp_path_factory.mktemp("azure-config"))


@pytest.fixture
def az(az_env, tmp_path):
    """Run the real ``az`` in ``tmp_path``: ``az("entracert", "cert", "show", ...)``.

    stdin is not a terminal (so no prompt can hang a test); ``input`` feeds it text instead.
    ``env`` adds variables (password sources). With ``check`` a non-zero exit fails the test.
    """
    def run(*args, input=None, env=None, check=True):
        completed = subprocess.run(
            [str(AZ), *map(str, args)], cwd=tmp_path, env={**az_env, **(env or {})},
            input=input, stdin=None if input is not None else subprocess.DEVNULL,
            capture_output=True, text=True, timeout=120)
        if check and completed.returncode != 0:
            pytest.fail(f"az {' '.join(map(str, args))} exited {completed.returncode}:\n"
                        f"{completed.stderr}")
        try:
            out = json.loads(completed.stdout)
        except ValueError:
            out = completed.stdout
        return AzResult(completed.returncode, out, completed.stderr)

    return run


def admin_az(az_env, emulator, config):
    """The real az signed in to the emulator as its admin service principal, in its own config
    folder ``config``, with the admin's profile 'admin' in that folder's profile store.

    ``run(*args, check=True, cwd=None)`` gives (exit code, parsed JSON or text, stderr), asking
    for JSON unless ``-o`` is given; ``run.store`` is the profile store, ``run.config`` its folder.
    """
    from conftest import az_environment, sign_in_az

    from azext_entracert.core import profiles

    env = az_environment(emulator, config, base=az_env)

    def run(*args, check=True, cwd=None):
        output = [] if "-o" in args else ["-o", "json"]
        done = subprocess.run([str(AZ), *map(str, args), *output], env=env, cwd=cwd,
                              stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=120)
        if check:
            assert done.returncode == 0, f"az {' '.join(map(str, args))}:\n{done.stderr}"
        try:
            out = json.loads(done.stdout)
        except ValueError:
            out = done.stdout
        return done.returncode, out, done.stderr

    sign_in_az(run, emulator)
    run.config = config / "entracert"
    run.store = profiles.ProfileStore(run.config)
    run.store.add(profiles.new_profile(
        "admin", tenant=emulator.tenant_id, client_id=emulator.admin["client_id"],
        certificate=emulator.admin["certificate"], authority_host=emulator.authority_host,
        ca_bundle=emulator.ca_bundle))
    return run


def create_profile(az, emulator, name, client_id, *options, env=None, check=True):
    """``az entracert profile create`` for the emulator's tenant, authority and CA."""
    return az("entracert", "profile", "create", "--name", name, "--tenant", emulator.tenant_id,
              "--client-id", client_id, "--authority-host", emulator.authority_host,
              "--ca-bundle", emulator.ca_bundle, *options, env=env, check=check)


def assert_clean_failure(result, *words):
    """Non-zero exit, az's ERROR line with our words, and no traceback."""
    assert result.returncode != 0, result
    assert "ERROR:" in result.stderr and "Traceback" not in result.stderr, result.stderr
    for word in words:
        assert word in result.stderr, result.stderr
