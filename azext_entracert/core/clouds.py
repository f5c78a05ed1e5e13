"""Authority hosts and Microsoft Graph endpoints of the public and sovereign clouds.

A profile names a cloud, or gives its own authority host (the local emulator, a private cloud);
``resolve`` turns either into the two origins a token request and a Graph call need.
"""
import dataclasses
from urllib.parse import urlsplit

from .errors import ConfigurationError


@dataclasses.dataclass(frozen=True)
class Cloud:
    name: str
    authority_host: str
    graph_endpoint: str


CLOUDS = {
    cloud.name: cloud for cloud in (
        Cloud("AzureCloud", "https://login.microsoftonline.com", "https://graph.microsoft.com"),
        Cloud("AzureUSGovernment", "https://login.microsoftonline.us", "https://graph.microsoft.us"),
        Cloud("AzureChinaCloud", "https://login.chinacloudapi.cn",
              "https://microsoftgraph.chinacloudapi.cn"),
    )
}

# MSAL's WELL_KNOWN_AUTHORITY_HOSTS (authority.py): hosts MSAL never needs to discover.
MICROSOFT_HOSTS = frozenset({
    "login.microsoftonline.com", "login.microsoft.com", "login.windows.net", "sts.windows.net",
    "login.chinacloudapi.cn", "login.partner.microsoftonline.cn", "login.microsoftonline.de",
    "login-us.microsoftonline.com", "login.microsoftonline.us", "login.usgovcloudapi.net",
    "login.sovcloud-identity.fr", "login.sovcloud-identity.de", "login.sovcloud-identity.sg",
})


def normalize_origin(url, *, what="--authority-host"):
    """``https://host[:port]`` without path or trailing slash; refuse anything but https."""
    parts = urlsplit(url.strip())
    if parts.scheme != "https" or not parts.hostname:
        raise ConfigurationError(
            f"{what} '{url}' is not an https URL.",
            hint=f"Give the origin, e.g. {what} https://login.microsoftonline.com.")
    if parts.path not in ("", "/"):
        raise ConfigurationError(
            f"{what} '{url}' has a path ('{parts.path}').",
            hint="Give only the scheme, host and port: the tenant is added by entracert.")
    return f"https://{parts.netloc.lower()}"


def check_agreement(cloud, *, authority_host=None, graph_endpoint=None):
    """Refuse ``--cloud`` given with an ``--authority-host`` or ``--graph-endpoint`` of another
    cloud: silently preferring either would send the certificate's assertion somewhere the user
    did not mean."""
    if cloud not in CLOUDS:
        return
    known = CLOUDS[cloud]
    for flag, given, own in (("--authority-host", authority_host, known.authority_host),
                             ("--graph-endpoint", graph_endpoint, known.graph_endpoint)):
        if given and normalize_origin(given, what=flag) != own:
            raise ConfigurationError(
                f"--cloud {cloud} and {flag} {given} contradict each other: {cloud} uses {own}.",
                hint=f"Give --cloud alone for {cloud}, or leave --cloud out and give {flag} "
                     "(with --authority-host for a private authority such as the emulator).")


def resolve(*, cloud=None, authority_host=None, graph_endpoint=None):
    """The (authority_host, graph_endpoint) origins for a cloud name or explicit hosts."""
    if cloud is not None and cloud not in CLOUDS:
        raise ConfigurationError(f"Unknown cloud '{cloud}'.",
                                 hint=f"Use one of {', '.join(CLOUDS)} or --authority-host URL.")
    host = normalize_origin(authority_host) if authority_host else None
    # A known cloud's authority host names that cloud (--authority-host https://login.microsoftonline.us
    # means US Government Graph too), whether or not --cloud is given.
    known = next((c for c in CLOUDS.values() if c.authority_host == host), None)
    base = CLOUDS[cloud] if cloud else known or CLOUDS["AzureCloud"]
    host = host or base.authority_host
    if graph_endpoint:
        graph = normalize_origin(graph_endpoint, what="--graph-endpoint")
    elif authority_host and cloud is None and known is None:
        graph = host  # a private authority (the emulator) serves Graph on its own origin
    else:
        graph = base.graph_endpoint
    return host, graph
