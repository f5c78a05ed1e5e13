"""Revocation in the PKI sense: has the CA that issued a certificate revoked it?

OCSP first (the responder named in the Authority Information Access extension, RFC 6960), then
the CRL (the CRL Distribution Points extension, RFC 5280). An answer counts only when its
signature verifies against the issuer (or an OCSP responder certificate the issuer delegated to),
it is about this serial number, and it is current. Everything goes through ``cryptography``'s OCSP
and CRL support; HTTP through ``HttpClient`` (``ca_bundle`` for an HTTPS endpoint on a private CA).

Revocation in the Entra ID sense (stop a compromised certificate signing in now) is different:
remove it from the application (``lifecycle.remove_certificate``). Entra ID does not consult OCSP
or CRLs for certificate credentials.
"""
import datetime

from .errors import CertificateError, EntraCertError
from .times import iso_z, utc_now

GOOD, REVOKED, UNKNOWN = "good", "revoked", "unknown"
MAX_BYTES = 20 * 1024 * 1024


def check(loaded, *, issuer=None, ca_bundle=None, http=None, now=None):
    """The revocation status of ``loaded``'s certificate.

    ``issuer`` is the issuing CA certificate; without it the file's chain, then the AIA
    "CA Issuers" URL are tried. Returns ``{"status": good|revoked|unknown, "method": "ocsp"|"crl"|
    None, "revocationDate", "reason", "checks": [{method, url, status, detail}], ...}``.
    """
    from . import certs
    from .http import HttpClient

    leaf = loaded.certificate
    now = now or utc_now()
    result = {"thumbprint": loaded.thumbprint, "subject": leaf.subject.rfc4514_string(),
              "issuer": leaf.issuer.rfc4514_string(),
              "serialNumber": loaded.serial, "status": UNKNOWN, "method": None,
              "revocationDate": None, "reason": None, "checks": []}
    if leaf.issuer == leaf.subject and _issued_by(leaf, leaf):
        result["detail"] = ("The certificate is self-signed: no CA can revoke it. To stop it "
                            "signing in to Entra ID, remove it from the application "
                            "('az entracert app cert remove').")
        return result
    own_http = http is None
    http = http or HttpClient(ca_bundle=ca_bundle)
    try:
        issuer = _find_issuer(leaf, issuer, loaded.chain, http, result["checks"])
        if issuer is None:
            result["detail"] = (f"The issuer '{result['issuer']}' is not known, so no answer "
                                "can be verified.")
            result["hint"] = "Pass the issuing CA certificate with --issuer ISSUER.pem."
            return result
        result["issuerThumbprint"] = certs.sha1_thumbprint(issuer)
        for method, urls, ask in (("ocsp", _ocsp_urls(leaf), _ask_ocsp),
                                  ("crl", _crl_urls(leaf), _ask_crl)):
            for url in urls:
                entry = {"method": method, "url": url}
                try:
                    entry.update(ask(http, url, leaf, issuer, now))
                except _Unusable as exc:
                    entry.update(status=UNKNOWN, detail=str(exc))
                except EntraCertError as exc:  # NetworkError from the HTTP client
                    entry.update(status=UNKNOWN, detail=exc.message)
                result["checks"].append(entry)
                if entry["status"] in (GOOD, REVOKED):
                    result.update(status=entry["status"], method=method,
                                  revocationDate=entry.get("revocationDate"),
                                  reason=entry.get("reason"))
                    return result
        if not _ocsp_urls(leaf) and not _crl_urls(leaf):
            result["detail"] = ("The certificate names no OCSP responder (AIA) and no CRL "
                                "distribution point (CDP): its CA offers no way to check it.")
        else:
            result["detail"] = "No OCSP responder or CRL gave a verifiable answer."
        return result
    finally:
        if own_http:
            http.close()


class _Unusable(Exception):
    """An answer that cannot be trusted or read; its text says why."""


def _find_issuer(leaf, issuer, chain, http, checks):
    if issuer is not None:
        if not _issued_by(leaf, issuer):
            raise CertificateError(
                f"The certificate was not issued by '{issuer.subject.rfc4514_string()}' (its "
                "signature does not verify with that key).",
                hint="Pass the CA certificate that issued it with --issuer.")
        return issuer
    for candidate in chain:
        if _issued_by(leaf, candidate):
            return candidate
    for url in _aia_urls(leaf, "CA_ISSUERS"):
        try:
            data = _fetch(http, "GET", url)
            candidate = _parse_certificate(data)
        except (EntraCertError, _Unusable) as exc:
            checks.append({"method": "caIssuers", "url": url, "status": UNKNOWN,
                           "detail": getattr(exc, "message", str(exc))})
            continue
        if candidate is not None and _issued_by(leaf, candidate):
            return candidate
    return None


def _issued_by(certificate, issuer):
    try:
        certificate.verify_directly_issued_by(issuer)
        return True
    except Exception:  # noqa: BLE001 - InvalidSignature, TypeError (key types), ValueError
        return False


# --- OCSP ---------------------------------------------------------------------------------------

def _ask_ocsp(http, url, leaf, issuer, now):
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509 import ocsp

    request = ocsp.OCSPRequestBuilder().add_certificate(leaf, issuer, hashes.SHA1()).build()
    data = _fetch(http, "POST", url, data=request.public_bytes(serialization.Encoding.DER),
                  headers={"Content-Type": "application/ocsp-request",
                           "Accept": "application/ocsp-response"})
    try:
        response = ocsp.load_der_ocsp_response(data)
    except ValueError as exc:
        raise _Unusable(f"the responder's answer is not an OCSP response ({exc})") from None
    if response.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
        raise _Unusable(f"the responder answered {response.response_status.name}")
    signer = _ocsp_signer(response, issuer)
    if not _signature_ok(signer.public_key(), response.signature, response.tbs_response_bytes,
                         response.signature_hash_algorithm):
        raise _Unusable("the OCSP response's signature does not verify against the issuer")
    single = next((r for r in response.responses if r.serial_number == leaf.serial_number
                   and r.issuer_key_hash == _issuer_key_hash(leaf, issuer, r.hash_algorithm)),
                  None)
    if single is None:
        raise _Unusable("the OCSP response is about another certificate")
    if single.next_update_utc is not None and single.next_update_utc < now:
        raise _Unusable(f"the OCSP response is stale (next update {iso_z(single.next_update_utc)})")
    if single.this_update_utc > now + datetime.timedelta(minutes=5):
        raise _Unusable("the OCSP response is dated in the future (check the clock)")
    status = single.certificate_status
    if status == ocsp.OCSPCertStatus.GOOD:
        return {"status": GOOD,
                "detail": f"OCSP: good (this update {iso_z(single.this_update_utc)})"}
    if status == ocsp.OCSPCertStatus.REVOKED:
        reason = single.revocation_reason.name if single.revocation_reason else None
        return {"status": REVOKED, "revocationDate": iso_z(single.revocation_time_utc),
                "reason": reason, "detail": "OCSP: revoked"}
    raise _Unusable("the OCSP responder does not know this certificate")


def _ocsp_signer(response, issuer):
    """The issuer itself, or a responder certificate it issued for OCSP signing (RFC 6960
    4.2.2.2)."""
    from cryptography import x509
    from cryptography.x509.oid import ExtendedKeyUsageOID

    if _names_responder(response, issuer):
        return issuer
    for candidate in response.certificates:
        if not _names_responder(response, candidate) or not _issued_by(candidate, issuer):
            continue
        try:
            usages = candidate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        except x509.ExtensionNotFound:
            continue
        if ExtendedKeyUsageOID.OCSP_SIGNING in usages:
            return candidate
    raise _Unusable("the OCSP response is not signed by the issuer or a responder it authorised")


def _names_responder(response, certificate):
    if response.responder_name is not None:
        return response.responder_name == certificate.subject
    return response.responder_key_hash == _responder_key_hash(certificate)


def _responder_key_hash(certificate):
    """SHA-1 of the subjectPublicKey (RFC 6960 ResponderID byKey) = the RFC 5280 key id."""
    from cryptography import x509

    return x509.SubjectKeyIdentifier.from_public_key(certificate.public_key()).digest


def _issuer_key_hash(leaf, issuer, algorithm):
    """The CertID issuerKeyHash for ``algorithm``, computed by cryptography's request builder."""
    from cryptography.x509 import ocsp

    return ocsp.OCSPRequestBuilder().add_certificate(leaf, issuer, algorithm).build(
    ).issuer_key_hash


# --- CRL ----------------------------------------------------------------------------------------

def _ask_crl(http, url, leaf, issuer, now):
    from cryptography import x509

    data = _fetch(http, "GET", url)
    try:
        crl = (x509.load_pem_x509_crl(data) if data.lstrip().startswith(b"-----BEGIN")
               else x509.load_der_x509_crl(data))
    except ValueError as exc:
        raise _Unusable(f"the file at the distribution point is not a CRL ({exc})") from None
    if crl.issuer != issuer.subject:
        raise _Unusable(f"the CRL is issued by '{crl.issuer.rfc4514_string()}', not the issuer")
    if not crl.is_signature_valid(issuer.public_key()):
        raise _Unusable("the CRL's signature does not verify against the issuer")
    if crl.next_update_utc is not None and crl.next_update_utc < now:
        raise _Unusable(f"the CRL is stale (next update {iso_z(crl.next_update_utc)})")
    entry = crl.get_revoked_certificate_by_serial_number(leaf.serial_number)
    if entry is None:
        return {"status": GOOD, "detail": f"CRL: not listed (CRL of {iso_z(crl.last_update_utc)})"}
    try:
        reason = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason.name
    except x509.ExtensionNotFound:
        reason = None
    return {"status": REVOKED, "revocationDate": iso_z(entry.revocation_date_utc),
            "reason": reason, "detail": "CRL: listed as revoked"}


# --- Helpers ------------------------------------------------------------------------------------

def _fetch(http, method, url, **kwargs):
    response = http.request(method, url, stream=True, **kwargs)
    try:
        if response.status_code != 200:
            raise _Unusable(f"{url} answered HTTP {response.status_code}")
        data = response.raw.read(MAX_BYTES + 1, decode_content=True)
    finally:
        response.close()
    if len(data) > MAX_BYTES:
        raise _Unusable(f"{url} sent more than {MAX_BYTES // (1024 * 1024)} MB")
    return data


def _parse_certificate(data):
    from cryptography import x509

    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError:
        raise _Unusable("the CA Issuers URL does not hold one certificate") from None


def _signature_ok(public_key, signature, data, hash_algorithm):
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

    try:
        if isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(signature, data, padding.PKCS1v15(), hash_algorithm)
        elif isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(signature, data, ec.ECDSA(hash_algorithm))
        else:
            public_key.verify(signature, data)
    except (InvalidSignature, TypeError, ValueError):
        return False
    return True


def _aia_urls(certificate, kind):
    from cryptography import x509
    from cryptography.x509.oid import AuthorityInformationAccessOID

    try:
        access = certificate.extensions.get_extension_for_class(
            x509.AuthorityInformationAccess).value
    except x509.ExtensionNotFound:
        return []
    method = getattr(AuthorityInformationAccessOID, kind)
    return [d.access_location.value for d in access if d.access_method == method
            and isinstance(d.access_location, x509.UniformResourceIdentifier)]


def _ocsp_urls(certificate):
    return _aia_urls(certificate, "OCSP")


def _crl_urls(certificate):
    from cryptography import x509

    try:
        points = certificate.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    except x509.ExtensionNotFound:
        return []
    return [name.value for point in points for name in point.full_name or ()
            if isinstance(name, x509.UniformResourceIdentifier)]
