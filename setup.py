"""One distribution: the `az entracert` extension (with its shared core and the local Entra ID
emulator) and the `pytest_entracert` plugin.

Base requirements stay empty on purpose: `az extension add` pip-installs a wheel *and its
requirements* into the extension's own folder, and azure-cli-core already brings msal,
msal-extensions/portalocker, cryptography, PyJWT and requests. Requiring them here would put second
copies beside az's own. Standalone users (the pytest plugin outside az) take the `pytest` extra.
"""
from setuptools import find_packages, setup

VERSION = "0.1.0"

STANDALONE = [
    "cryptography>=42",
    "msal>=1.31",
    "PyJWT[crypto]>=2.8",
    "requests>=2.31",
    "portalocker>=2.8",
    "azure-core>=1.31",  # TokenCredential/AccessTokenInfo for the plugin's entra_credential
]

setup(
    name="entracert",
    version=VERSION,
    description="Authenticate Microsoft Entra ID service principals with X.509 certificates",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="MIT",
    python_requires=">=3.10",
    packages=find_packages(include=["azext_entracert", "azext_entracert.*", "pytest_entracert"]),
    package_data={"azext_entracert": ["azext_metadata.json"]},
    install_requires=[],
    extras_require={
        "pytest": STANDALONE + ["pytest>=7.4"],
        "dev": STANDALONE
        + ["pytest>=7.4", "pytest-xdist>=3.5", "azure-identity>=1.17", "azure-cli>=2.60", "wheel",
           "ruff",
           # the plugin's async credential is tested in an azure-core aio pipeline
           "pytest-asyncio>=0.23", "aiohttp>=3.9",
           # PKCS#11 (HSM) keys, tested on SoftHSM2; users of a token install it themselves
           "python-pkcs11>=0.7"],
    },
    entry_points={"pytest11": ["entracert = pytest_entracert.plugin"]},
    classifiers=[
        "Framework :: Pytest",
        "Programming Language :: Python :: 3",
    ],
)
