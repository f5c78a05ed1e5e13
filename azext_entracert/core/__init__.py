"""The entracert core: certificates, assertions, tokens, profiles, Graph and audit.

Floor 1 of the house: it imports nothing of knack, azure.cli or pytest, so the az extension, the
pytest plugin and the emulator can all stand on it. Modules import their heavy dependencies
(cryptography, msal, requests) themselves; importing this package costs nothing.
"""
