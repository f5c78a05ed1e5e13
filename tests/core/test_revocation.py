"""Revocation checks against a CA, a CRL and an OCSP responder this test runs on loopback.

The responder is a plain ``http.server`` thread: it answers OCSP requests with responses built by
``cryptography``'s ``OCSPResponseBuilder`` and serves a CRL built by
``CertificateRevocationListBuilder``, both signed by the test CA (or, to prove that forgeries are
refused, by another key). Nothing of ours is mocked: ``revocation.check`` speaks real HTTP.
"""
import datetime
import http.server
import threading

import pytest
from conftest import make_certificate, utc
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from azext_entracert.core import certgen, certs, revocation
from azext_entracert.core.errors import CertificateError


class Authority:
    """A CA with what it has revoked, and the behaviour its servers should show."""

    def __init__(self, key, forger_key):
        self.key, self.forger_key = key, forger_key
        self.certificate = certgen.build_certificate(
            subject=certgen.parse_subject("CN=entracert test CA"), public_key=key.public_key(),
            signing_key=key, purpose="ca", days=30)
        self.revoked = {}           # serial -> (date, x509.ReasonFlags)
        self.ocsp_mode = "ok"       # ok | down | forged | unknown
        self.crl_mode = "ok"        # ok | forged | stale
        self.requests = []

    def crl(self):
        now = utc()
        builder = (x509.CertificateRevocationListBuilder().issuer_name(self.certificate.subject)
                   .last_update(now - datetime.timedelta(hours=1))
                   .next_update(now + (datetime.timedelta(hours=-1) if self.crl_mode == "stale"
                                       else datetime.timedelta(days=1))))
        for serial, (date, reason) in self.revoked.items():
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(date)
                .add_extension(x509.CRLReason(reason), critical=False).build())
        key = self.forger_key if self.crl_mode == "forged" else self.key
        return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)

    def ocsp(self, request_der, leaf_by_serial):
        request = ocsp.load_der_ocsp_request(request_der)
        leaf = leaf_by_serial.get(request.serial_number)
        if leaf is None or self.ocsp_mode == "unknown":
            return ocsp.OCSPResponseBuilder.build_unsuccessful(
                ocsp.OCSPResponseStatus.UNAUTHORIZED).public_bytes(serialization.Encoding.DER)
        now = utc()
        revoked = self.revoked.get(request.serial_number)
        status = ocsp.OCSPCertStatus.REVOKED if revoked else ocsp.OCSPCertStatus.GOOD
        builder = ocsp.OCSPResponseBuilder().add_response(
            cert=leaf, issuer=self.certificate, algorithm=hashes.SHA1(), cert_status=status,
            this_update=now - datetime.timedelta(minutes=1),
            next_update=now + datetime.timedelta(hours=1),
            revocation_time=revoked[0] if revoked else None,
            revocation_reason=revoked[1] if revoked else None,
        )
        if self.ocsp_mode == "forged":  # the CA's name, someone else's key
            impostor = certgen.build_certificate(
                subject=self.certificate.subject, public_key=self.forger_key.public_key(),
                signing_key=self.forger_key, purpose="ca", days=30)
            builder = builder.responder_id(ocsp.OCSPResponderEncoding.NAME, impostor)
            key = self.forger_key
        else:
            builder = builder.responder_id(ocsp.OCSPResponderEncoding.HASH, self.certificate)
            key = self.key
        return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


@pytest.fixture(scope="module")
def pki(rsa_keys):
    """The CA and its HTTP server (OCSP at /ocsp, CRL at /crl.crl) on 127.0.0.1."""
    authority = Authority(rsa_keys[10], rsa_keys[11])
    leaves = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def _send(self, status, body, kind):
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            authority.requests.append(("GET", self.path))
            if self.path == "/crl.crl":
                self._send(200, authority.crl(), "application/pkix-crl")
            elif self.path == "/ca.cer":
                self._send(200, authority.certificate.public_bytes(serialization.Encoding.DER),
                           "application/pkix-cert")
            else:
                self._send(404, b"", "text/plain")

        def do_POST(self):
            authority.requests.append(("POST", self.path))
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if authority.ocsp_mode == "down":
                self._send(503, b"", "text/plain")
            else:
                self._send(200, authority.ocsp(body, leaves), "application/ocsp-response")

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    authority.base, authority.leaves = base, leaves
    yield authority
    server.shutdown()
    server.server_close()


@pytest.fixture
def ca(pki):
    pki.revoked.clear()
    pki.ocsp_mode = pki.crl_mode = "ok"
    pki.requests.clear()
    return pki


def issue(ca, key, name="leaf", *, ocsp_url=True, crl_url=True, ca_issuers=False):
    """A client certificate from the CA, pointing at its OCSP responder and CRL."""
    certificate = certgen.build_certificate(
        subject=certgen.parse_subject(f"CN={name}"), public_key=key.public_key(),
        signing_key=ca.key, issuer=ca.certificate, days=10,
        ocsp_url=f"{ca.base}/ocsp" if ocsp_url else None,
        crl_url=f"{ca.base}/crl.crl" if crl_url else None)
    if ca_issuers:  # rebuild with a CA Issuers pointer as well
        from cryptography.x509.oid import AuthorityInformationAccessOID as AIA
        builder = (x509.CertificateBuilder().subject_name(certificate.subject)
                   .issuer_name(certificate.issuer).public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(certificate.not_valid_before_utc)
                   .not_valid_after(certificate.not_valid_after_utc)
                   .add_extension(x509.AuthorityInformationAccess([
                       x509.AccessDescription(AIA.OCSP, x509.UniformResourceIdentifier(
                           f"{ca.base}/ocsp")),
                       x509.AccessDescription(AIA.CA_ISSUERS, x509.UniformResourceIdentifier(
                           f"{ca.base}/ca.cer"))]), critical=False))
        certificate = builder.sign(ca.key, hashes.SHA256())
    ca.leaves[certificate.serial_number] = certificate
    return certs.LoadedCertificate(certificate, None, (), "test")


def revoke(ca, loaded, reason=x509.ReasonFlags.key_compromise):
    date = (utc() - datetime.timedelta(hours=2)).replace(microsecond=0)
    ca.revoked[loaded.certificate.serial_number] = (date, reason)
    return date


def test_good_by_ocsp(ca, rsa_keys):
    result = revocation.check(issue(ca, rsa_keys[0]), issuer=ca.certificate)
    assert (result["status"], result["method"]) == ("good", "ocsp")
    assert ca.requests == [("POST", "/ocsp")]  # a definite OCSP answer needs no CRL download


def test_revoked_by_ocsp_with_reason_and_date(ca, rsa_keys):
    leaf = issue(ca, rsa_keys[0])
    date = revoke(ca, leaf)
    result = revocation.check(leaf, issuer=ca.certificate)
    assert (result["status"], result["method"], result["reason"]) == (
        "revoked", "ocsp", "key_compromise")
    assert result["revocationDate"] == f"{date:%Y-%m-%dT%H:%M:%SZ}"


def test_responder_down_falls_back_to_the_crl(ca, rsa_keys):
    leaf = issue(ca, rsa_keys[0])
    revoke(ca, leaf, x509.ReasonFlags.superseded)
    ca.ocsp_mode = "down"
    result = revocation.check(leaf, issuer=ca.certificate)
    assert (result["status"], result["method"], result["reason"]) == (
        "revoked", "crl", "superseded")
    assert result["checks"][0]["method"] == "ocsp" and "503" in result["checks"][0]["detail"]


def test_forged_ocsp_answer_is_ignored_and_the_crl_decides(ca, rsa_keys):
    leaf = issue(ca, rsa_keys[0])
    revoke(ca, leaf)
    ca.ocsp_mode = "forged"  # a "good" signed by someone else must not clear a revoked cert
    result = revocation.check(leaf, issuer=ca.certificate)
    assert (result["status"], result["method"]) == ("revoked", "crl")
    assert "signature does not verify" in result["checks"][0]["detail"]


def test_forged_or_stale_crl_gives_unknown(ca, rsa_keys):
    leaf = issue(ca, rsa_keys[0], ocsp_url=False)
    ca.crl_mode = "forged"
    result = revocation.check(leaf, issuer=ca.certificate)
    assert result["status"] == "unknown" and "signature" in result["checks"][0]["detail"]
    ca.crl_mode = "stale"
    result = revocation.check(leaf, issuer=ca.certificate)
    assert result["status"] == "unknown" and "stale" in result["checks"][0]["detail"]


def test_good_by_crl_when_no_responder(ca, rsa_keys):
    other = issue(ca, rsa_keys[1], "other")
    revoke(ca, other)  # someone else is on the list
    result = revocation.check(issue(ca, rsa_keys[0], ocsp_url=False), issuer=ca.certificate)
    assert (result["status"], result["method"]) == ("good", "crl")


def test_issuer_from_the_chain_or_ca_issuers_url(ca, rsa_keys):
    leaf = issue(ca, rsa_keys[0])
    with_chain = certs.LoadedCertificate(leaf.certificate, None, (ca.certificate,), "chain")
    assert revocation.check(with_chain)["status"] == "good"
    fetched = issue(ca, rsa_keys[0], ca_issuers=True)
    assert revocation.check(fetched)["status"] == "good"
    assert ("GET", "/ca.cer") in ca.requests


def test_unknown_issuer_and_wrong_issuer(ca, rsa_keys):
    leaf = issue(ca, rsa_keys[0])
    result = revocation.check(leaf)
    assert result["status"] == "unknown" and "--issuer" in result["hint"]
    stranger = make_certificate(rsa_keys[2], "not-the-ca")
    with pytest.raises(CertificateError, match="not issued by"):
        revocation.check(leaf, issuer=stranger)


def test_self_signed_points_to_entra_removal(rsa_keys):
    loaded = certs.LoadedCertificate(make_certificate(rsa_keys[0], "self"), None, (), "self")
    result = revocation.check(loaded)
    assert result["status"] == "unknown" and "app cert remove" in result["detail"]


def test_no_revocation_pointers(ca, rsa_keys):
    leaf = issue(ca, rsa_keys[0], ocsp_url=False, crl_url=False)
    result = revocation.check(leaf, issuer=ca.certificate)
    assert result["status"] == "unknown" and "no OCSP responder" in result["detail"]


def test_unreachable_responder_is_unknown_not_a_crash(ca, rsa_keys):
    certificate = certgen.build_certificate(
        subject=certgen.parse_subject("CN=nowhere"), public_key=rsa_keys[0].public_key(),
        signing_key=ca.key, issuer=ca.certificate, days=10, ocsp_url="http://127.0.0.1:9/ocsp")
    result = revocation.check(certs.LoadedCertificate(certificate, None, (), "x"),
                              issuer=ca.certificate)
    assert result["status"] == "unknown" and "cannot be reached" in result["checks"][0]["detail"]
