"""A core error as the plugin's one-line reason (``explain``). Imported only when there is an
error to tell, so a run that needs none does not compile its patterns.

Only a stored profile can be named in 'az entracert ... --name NAME' (or '--profile NAME'): the
identity made from the plugin's settings ("pytest"), one given to a factory by client_id= and
certificate=, and the emulator's applications are not, so such a hint gives way to the setting,
argument or emulator call that changes the same thing.
"""
import re

SETTING_HINTS = (
    (("--password-env", "--password-file"),
     "Set AZURE_CLIENT_CERTIFICATE_PASSWORD to the certificate's password."),
    (("--certificate", "app cert add"),
     "Point --entra-cert=PATH (or AZURE_CLIENT_CERTIFICATE_PATH) at the certificate "
     "registered on the application."),
    (("--ca-bundle",),
     "Trust the authority's CA with --entra-ca-bundle=PEM (or ENTRACERT_CA_BUNDLE)."),
    (("profile show", "profile update", "--authority-host", "--cloud"),
     "Check --entra-tenant (AZURE_TENANT_ID) and --entra-authority (AZURE_AUTHORITY_HOST)."),
)
ARGUMENT_HINTS = (
    SETTING_HINTS[0],
    (("--certificate", "app cert add", "credential reset"),
     "Pass certificate= a PFX or PEM (with its key) of a certificate registered on the "
     "application."),
    SETTING_HINTS[2],
    (("profile show", "profile update", "--authority-host", "--cloud"),
     "Check tenant= (by default the configured identity's) and --entra-authority "
     "(AZURE_AUTHORITY_HOST)."),
)
EMULATOR_HINTS = (
    (("--certificate", "app cert add", "credential reset"),
     "Register the certificate on the application with entra_emulator.ensure_application("
     "DISPLAY_NAME, certificates=[...]), or sign in with the key it was created with."),
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(`'])")
# The plugin never prompts (a test run has no terminal to ask at), so the core's offer of a
# prompt sends a pytest user nowhere: only the options that name a source are left.
_PROMPT_OFFER = re.compile(r",? \(?or run in a terminal to be prompted\)?")


def explain(error, name=None, *, hints=SETTING_HINTS, called="the configured identity",
            emulated=False):
    """A core error as the plugin's one-line reason. ``name`` is the core's name of the identity
    it was about when that is no stored profile (None for a stored one): commands naming it give
    way to ``hints``, and "profile 'NAME'" to ``called``. For an ``emulated`` identity every az
    command does: none of them reaches the emulator's tenant."""
    if not error.hint:
        return str(error)
    offered = _PROMPT_OFFER.sub("", error.hint)
    if name is None:
        return f"{error.message} {offered}"
    named = re.compile(r"[`']az [^`']*[`']" if emulated else
                       rf"[`']az entracert [^`']*--(?:name|profile) {re.escape(name)}"
                       rf"(?=[\s`'])[^`']*[`']")
    hint = []
    for sentence in _SENTENCE_END.split(offered):
        # "Register it ...: `az entracert app cert add --profile pytest ...`, or `az ad ...`":
        # keep the alternative that exists
        sentence = re.sub(named.pattern + r"(?: \([^)]*\))?, or (?=`)", "", sentence)
        commands = named.findall(sentence)
        if commands:
            joined = " ".join(commands)
            sentence = next((text for options, text in hints
                             if any(option in joined for option in options)), None)
        if sentence and sentence not in hint:
            hint.append(sentence)
    message = error.message.replace(f"profile '{name}'", called)
    return " ".join([message, *hint])
