"""The plugin is tested through real pytest runs of small test files (``pytester``).

Each inner run gets a clean environment: no azure-identity or outer xdist variables, an empty
Azure CLI configuration folder (so no profile of the machine leaks in), and no cache provider.
"""
import pytest

IDENTITY_VARIABLES = ("AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_CERTIFICATE_PATH",
                      "AZURE_CLIENT_CERTIFICATE_PASSWORD", "AZURE_CLIENT_SEND_CERTIFICATE_CHAIN",
                      "AZURE_CLIENT_SECRET",
                      "AZURE_AUTHORITY_HOST", "ENTRACERT_CA_BUNDLE", "PYTEST_ADDOPTS",
                      # the outer run's xdist worker name would make an inner controller look
                      # like a worker to its conftests
                      "PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT",
                      "ENTRACERT_EMULATOR_STATE",
                      # pytest does not truncate its short summary under CI: inner runs must
                      # print the same wherever the suite runs
                      "CI", "BUILD_NUMBER")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch, tmp_path):
    for name in IDENTITY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AZURE_CONFIG_DIR", str(tmp_path / "azure-config"))
    return tmp_path / "azure-config"


@pytest.fixture
def run(pytester):
    """``run(*args, subprocess=False)``: an inner pytest run without the cache provider."""
    def run_pytest(*args, subprocess=False):
        # Inner runs have no ini of ours: set what pytest-asyncio (dev extra) warns about.
        args = ("-p", "no:cacheprovider", "-o", "asyncio_default_fixture_loop_scope=function",
                *args)
        if subprocess:
            return pytester.runpytest_subprocess(*args)
        return pytester.runpytest(*args)
    return run_pytest


@pytest.fixture(scope="session")
def certificate_pem(rsa_keys, tmp_path_factory):
    """A key + self-signed certificate PEM (0600) for identities that are never sent anywhere."""
    from conftest import make_certificate, pem_of

    from azext_entracert.core.fileio import PRIVATE, atomic_write

    path = tmp_path_factory.mktemp("plugin-cert") / "identity.pem"
    certificate = make_certificate(rsa_keys[0], "entracert-plugin-test", days=365)
    atomic_write(path, pem_of(rsa_keys[0], certificate).encode("ascii"), mode=PRIVATE)
    return path
