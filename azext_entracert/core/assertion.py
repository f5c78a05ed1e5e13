"""Client-assertion and proof-of-possession JWTs, signed through PyJWT over a ``cryptography`` key.

Client assertion (certificate credential, RFC 7523): by default PS256 with ``x5t#S256`` as the
Entra docs now ask; ``legacy_sha1`` gives RS256 with ``x5t`` (what azure-identity and az send);
``send_chain`` adds the whole chain, leaf first, in ``x5c`` for subject name + issuer (SNI) apps.
MSAL itself can only send the leaf, which is why entracert builds the assertion and hands MSAL a
``client_assertion`` callable.

Proof of possession (Graph ``addKey``/``removeKey``): RS256 with ``x5t`` and ``kid`` as .NET's
``X509SigningCredentials`` writes them, ``aud`` 00000002-0000-0000-c000-000000000000, ``iss`` the
application's object id, lifetime 10 minutes (ENTRA-FACTS 5.1).
"""
import base64
import time
import uuid

from .certs import der_of, normalize_b64url

ASSERTION_LIFETIME = 600
PROOF_AUDIENCE = "00000002-0000-0000-c000-000000000000"
PROOF_LIFETIME = 600


def client_assertion(loaded, *, audience, client_id, legacy_sha1=False, send_chain=False,
                     lifetime=ASSERTION_LIFETIME, now=None):
    """A signed client assertion for ``client_id`` aimed at the token endpoint ``audience``."""
    import jwt

    now = int(now if now is not None else time.time())
    claims = {"aud": audience, "iss": client_id, "sub": client_id, "jti": str(uuid.uuid4()),
              "iat": now, "nbf": now, "exp": now + lifetime}
    if legacy_sha1:
        algorithm, headers = "RS256", {"x5t": loaded.x5t}
    else:
        algorithm, headers = "PS256", {"x5t#S256": loaded.x5t_s256}
    if send_chain:
        headers["x5c"] = [base64.b64encode(loaded.der).decode("ascii"),
                          *(base64.b64encode(der_of(c)).decode("ascii") for c in loaded.chain)]
    return jwt.encode(claims, loaded.private_key, algorithm=algorithm, headers=headers)


def proof_of_possession(loaded, *, object_id, lifetime=PROOF_LIFETIME, now=None):
    """The ``proof`` JWT Graph's addKey/removeKey demand, signed by a registered certificate."""
    import jwt

    now = int(now if now is not None else time.time())
    claims = {"aud": PROOF_AUDIENCE, "iss": object_id, "nbf": now, "exp": now + lifetime}
    headers = {"x5t": normalize_b64url(loaded.x5t), "kid": loaded.thumbprint}
    return jwt.encode(claims, loaded.private_key, algorithm="RS256", headers=headers)
