"""The ``az entracert`` Azure CLI extension.

This package also holds the shared core (``azext_entracert.core``) and the emulator, which the
pytest plugin and the tests import without azure-cli. So importing it must cost nothing: azure-cli
finds the extension through ``COMMAND_LOADER_CLS``, which is built only when asked for (PEP 562
module ``__getattr__``), and only then are azure-cli and knack imported.
"""


def __getattr__(name):
    if name == "COMMAND_LOADER_CLS":
        from ._loader import EntraCertCommandsLoader

        return EntraCertCommandsLoader
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
