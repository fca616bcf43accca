"""mTLS to the sidecar with the agent's X.509-SVID, verifying the sidecar by its SPIFFE ID.

An SVID names its workload only in a URI SAN, so a hostname check cannot pass and Python's ssl module
cannot check a URI SAN itself. Here OpenSSL verifies the sidecar's chain against the SPIFFE bundle,
and the handshake is only complete once the peer's URI SAN equals the expected SPIFFE ID: the check
runs inside `do_handshake` of the socket and SSL-object classes these contexts create, so it holds for
httpx2's sync transport (`wrap_socket`) and its async one (anyio's `wrap_bio`) alike, and a mismatch
fails the connection (ssl.SSLCertVerificationError) before a byte of the request is sent.

`RotatingSSLContext` holds the context built from the newest SVID: each new connection it wraps uses
that one; connections already open carry on untouched. Since the sidecar checks the certificate of
the connection on every request, an open keep-alive connection must not outlive its SVID: the SDK's
clients therefore keep one pool per SVID (agent_warden.transport), keyed on `current`.
"""

from __future__ import annotations

import os
import ssl
import tempfile
import threading
from typing import Any, Iterable, Optional, Sequence

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtensionOID


class SpiffeIdMismatch(ssl.SSLCertVerificationError):
    """The peer's certificate does not carry the expected SPIFFE ID."""


def uri_sans(der: bytes) -> list[str]:
    """The URI SANs of a DER certificate."""
    cert = x509.load_der_x509_certificate(der)
    try:
        ext = cert.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
    except x509.ExtensionNotFound:
        return []
    return list(ext.value.get_values_for_type(x509.UniformResourceIdentifier))


def check_peer_spiffe_id(der: Optional[bytes], expected: str) -> None:
    """Raises SpiffeIdMismatch unless the certificate's one URI SAN is `expected` (an SVID has one)."""
    if not der:
        raise SpiffeIdMismatch("the sidecar presented no certificate")
    uris = uri_sans(der)
    if len(uris) != 1 or uris[0] != expected:
        raise SpiffeIdMismatch(
            f"the sidecar's SPIFFE ID is {', '.join(uris) or 'missing'}, expected {expected}"
        )


class _VerifyingSSLSocket(ssl.SSLSocket):
    def do_handshake(self, *args: Any, **kwargs: Any) -> None:
        super().do_handshake(*args, **kwargs)
        expected = getattr(self.context, "expected_peer_id", None)
        try:
            check_peer_spiffe_id(self.getpeercert(binary_form=True), expected or "")
        except SpiffeIdMismatch:
            self.close()
            raise


class _VerifyingSSLObject(ssl.SSLObject):
    def do_handshake(self) -> None:
        super().do_handshake()  # raises SSLWantReadError until the handshake is done
        expected = getattr(self.context, "expected_peer_id", None)
        check_peer_spiffe_id(self.getpeercert(binary_form=True), expected or "")


class SpiffeClientContext(ssl.SSLContext):
    """A TLS client context holding one SVID and bundle, requiring the peer's SPIFFE ID."""

    expected_peer_id: str
    sslsocket_class = _VerifyingSSLSocket
    sslobject_class = _VerifyingSSLObject


def _pem_chain(certs: Sequence[x509.Certificate]) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def build_context(
    cert_chain: Sequence[x509.Certificate],
    private_key: Any,
    authorities: Iterable[x509.Certificate],
    expected_peer_id: str,
) -> SpiffeClientContext:
    """A context presenting `cert_chain`/`private_key`, trusting `authorities`, requiring `expected_peer_id`."""
    ctx = SpiffeClientContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    # The peer is identified by its SPIFFE ID (checked in the handshake above), never by host name;
    # the chain is still verified against the bundle.
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.expected_peer_id = expected_peer_id
    cadata = _pem_chain(list(authorities)).decode("ascii")
    if not cadata:
        raise ValueError("the SPIFFE bundle has no authorities")
    ctx.load_verify_locations(cadata=cadata)
    # Python loads a client certificate only from files: a private, short-lived directory, removed at once.
    key_pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with tempfile.TemporaryDirectory(prefix="warden-svid-") as tmp:
        os.chmod(tmp, 0o700)
        cert_path = os.path.join(tmp, "svid.pem")
        key_path = os.path.join(tmp, "key.pem")
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(key_pem)
        with open(cert_path, "wb") as f:
            f.write(_pem_chain(cert_chain))
        ctx.load_cert_chain(cert_path, key_path)
    return ctx


class RotatingSSLContext(ssl.SSLContext):
    """The context the HTTP clients hold: it wraps each new connection with the current SVID's context.

    `update()` swaps in a context built from a new SVID; nothing already connected is touched (the
    SDK's transports, which watch `current`, retire their pools built with the old one).
    """

    def __new__(cls, initial: SpiffeClientContext) -> "RotatingSSLContext":
        return super().__new__(cls, ssl.PROTOCOL_TLS_CLIENT)

    def __init__(self, initial: SpiffeClientContext) -> None:
        self._lock = threading.Lock()
        self._current = initial
        self._alpn: Optional[list[str]] = None
        # This outer context never handshakes itself; make it refuse if anything tried.
        self.check_hostname = True
        self.verify_mode = ssl.CERT_REQUIRED

    @property
    def current(self) -> SpiffeClientContext:
        with self._lock:
            return self._current

    @property
    def expected_peer_id(self) -> str:
        return self.current.expected_peer_id

    def update(self, ctx: SpiffeClientContext) -> None:
        with self._lock:
            if self._alpn is not None:
                ctx.set_alpn_protocols(self._alpn)
            self._current = ctx

    def set_alpn_protocols(self, alpn_protocols: Iterable[str]) -> None:
        protocols = list(alpn_protocols)
        with self._lock:
            self._alpn = protocols
            self._current.set_alpn_protocols(protocols)

    def wrap_socket(self, *args: Any, **kwargs: Any) -> ssl.SSLSocket:  # type: ignore[override]
        return self.current.wrap_socket(*args, **kwargs)

    def wrap_bio(self, *args: Any, **kwargs: Any) -> ssl.SSLObject:  # type: ignore[override]
        return self.current.wrap_bio(*args, **kwargs)
