"""The README's main job, end to end on this machine, with no Azure account.

1. build the extension wheel and install it into the real ``az`` (isolated config + extension dirs),
2. start the local Entra ID emulator (TLS on 127.0.0.1),
3. ``az entracert cert create``: a new self-signed certificate,
4. register an application with that certificate in the emulator and create its service
   principal (Microsoft Graph, as the emulator's bootstrap admin, through the entracert core;
   two objects, as in Entra),
5. ``az entracert profile create`` for that application,
6. ``az entracert token get`` twice (network, then cache) and ``az entracert token inspect``,
7. stop the emulator.

Everything lives under ``.demo/`` (git-ignored) and is made afresh on each run.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".demo"
AZ = Path(sys.executable).parent / "az"


def step(text):
    print(f"\n==> {text}", flush=True)


def az(*args, env, capture=True):
    result = subprocess.run([str(AZ), *args], env=env, text=True,
                            stdout=subprocess.PIPE if capture else None)
    if result.returncode != 0:
        sys.exit(f"az {' '.join(args[:3])} failed (exit {result.returncode})")
    return json.loads(result.stdout) if capture and result.stdout.strip() else None


def build_wheel(into):
    """The extension's wheel, built into ``into`` (the benchmarks use this too)."""
    with tempfile.TemporaryDirectory() as scratch:
        # Build from a copy so no build/ or *.egg-info is left in the work tree.
        source = Path(scratch) / "src"
        shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
            ".venv", ".git", ".demo", ".emulator", ".node", "build", "dist", "*.egg-info",
            "__pycache__", "tests", "*.whl"))
        subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                        "--no-build-isolation", "-w", str(into), str(source)], check=True)
    return next(Path(into).glob("entracert-*.whl"))


def start_emulator(state_dir):
    process = subprocess.Popen([sys.executable, "-m", "azext_entracert.emulator",
                                "--state-dir", str(state_dir)], stdout=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    if not line:
        process.wait()
        sys.exit("the emulator did not start")
    return process, json.loads(line)


def register_application(info, certificate_file, config_dir):
    """Create the demo application and its service principal in the emulator's Graph, as its
    bootstrap admin (without the service principal it could not sign in: AADSTS7000229)."""
    from azext_entracert.core import certs, graph, profiles, tokens
    from azext_entracert.core.http import HttpClient

    admin = profiles.new_profile(
        "emulator-admin", tenant=info["tenant_id"], client_id=info["admin"]["client_id"],
        certificate=info["admin"]["certificate"], authority_host=info["authority_host"],
        ca_bundle=info["ca_bundle"])
    scope = [f"{admin.graph_endpoint}/.default"]
    client = graph.GraphClient(
        endpoint=admin.graph_endpoint, http=HttpClient(ca_bundle=info["ca_bundle"]),
        token_provider=lambda: tokens.acquire(admin, scope,
                                              directory=config_dir / "entracert").token)
    app = client.create_application("entracert-demo", certificates=[certs.load(certificate_file)])
    client.create_service_principal(app["appId"])
    return app


def main():
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir()
    env = {**os.environ, "AZURE_CONFIG_DIR": str(WORK / "azure"),
           "AZURE_EXTENSION_DIR": str(WORK / "extensions"),
           "AZURE_CORE_COLLECT_TELEMETRY": "false", "AZURE_CORE_NO_COLOR": "true"}

    step("Installing the entracert extension into the real az (isolated config)")
    wheel = build_wheel(WORK / "wheel")
    az("extension", "add", "--source", str(wheel), "--yes", env=env, capture=False)

    step("Starting the local Entra ID emulator")
    emulator, info = start_emulator(WORK / "emulator")
    try:
        print(f"    authority {info['authority_host']}  tenant {info['tenant_id']}")

        step("az entracert cert create --subject CN=entracert-demo --out demo.pfx --no-password")
        cert = az("entracert", "cert", "create", "--subject", "CN=entracert-demo",
                  "--out", str(WORK / "demo.pfx"), "--no-password", env=env)
        print(f"    thumbprint {cert['thumbprint']}, valid until {cert['notAfter']}")

        step("Registering an application with that certificate in the emulator (Graph)")
        app = register_application(info, WORK / "demo.cer", WORK / "azure")
        print(f"    application {app['displayName']}  appId {app['appId']}")

        step("az entracert profile create --name demo ...")
        az("entracert", "profile", "create", "--name", "demo", "--tenant", info["tenant_id"],
           "--client-id", app["appId"], "--certificate", str(WORK / "demo.pfx"),
           "--authority-host", info["authority_host"], "--ca-bundle", info["ca_bundle"],
           "--default", env=env)

        step("az entracert token get --profile demo")
        token = az("entracert", "token", "get", "--profile", "demo", env=env)
        print(json.dumps({**token, "accessToken": token["accessToken"][:24] + "..."}, indent=2))
        again = az("entracert", "token", "get", "--profile", "demo", env=env)
        print(f"    a second call is served from the {again['source']}")

        step("az entracert token inspect --profile demo (decoded claims, signature verified)")
        inspected = az("entracert", "token", "inspect", "--profile", "demo", "--verify", env=env)
        print(json.dumps(inspected["claims"], indent=2))
        print(f"    valid: {inspected.get('verification', {}).get('valid')}")
    finally:
        emulator.terminate()
        emulator.wait(timeout=10)
    step("Done: the emulator is stopped; everything it made is in .demo/")


if __name__ == "__main__":
    main()
