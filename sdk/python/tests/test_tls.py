"""The sidecar is verified by its SPIFFE ID, never by host name; a rotated SVID is used from the next connection."""

from __future__ import annotations

import ssl
import threading

import anyio
import httpx2
import pytest

from agent_warden import SpiffeIdMismatch, Warden
from agent_warden.tls import check_peer_spiffe_id

from .conftest import SIDECAR_ID, StaticSource
from .pki import Ca
from .tls_server import TlsServer


def warden_for(source: StaticSource, server: TlsServer) -> Warden:
    return Warden(source, server.url)  # type: ignore[arg-type]


def test_plain_python_tls_fails_against_an_svid_the_sdk_does_not(ca: Ca, server: TlsServer) -> None:
    # What agents hit before the SDK: a hostname check cannot pass on a URI-SAN-only certificate.
    ctx = ssl.create_default_context(cadata=ca.pem().decode())
    with pytest.raises(httpx2.ConnectError, match="IP address mismatch"):
        httpx2.get(f"{server.url}/whoami", verify=ctx)
    with warden_for(StaticSource(ca), server).httpx() as http:
        assert http.get("/whoami").json()["uris"] == ["spiffe://warden.local/agent/test"]


def test_a_sidecar_with_another_spiffe_id_is_refused_sync_and_async(ca: Ca, server: TlsServer) -> None:
    source = StaticSource(ca, expected="spiffe://warden.local/warden/not-envoy")
    with warden_for(source, server).httpx() as http:
        with pytest.raises(httpx2.ConnectError, match="expected spiffe://warden.local/warden/not-envoy"):
            http.get("/whoami")

    async def run() -> None:
        async with warden_for(source, server).async_httpx() as http:
            with pytest.raises(httpx2.ConnectError, match="SPIFFE ID is spiffe://warden.local/warden/envoy"):
                await http.get("/whoami")

    anyio.run(run)


def test_a_sidecar_certificate_from_another_ca_is_refused_even_with_the_right_id(ca: Ca) -> None:
    other = Ca("evil.local")
    impostor = TlsServer(other, other.issue(SIDECAR_ID))
    try:
        with warden_for(StaticSource(ca), impostor).httpx() as http:
            with pytest.raises(httpx2.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                http.get("/whoami")
    finally:
        impostor.close()


def test_check_peer_spiffe_id_wants_exactly_the_expected_uri(ca: Ca) -> None:
    from cryptography.hazmat.primitives import serialization

    der = ca.issue(SIDECAR_ID, ip=True).cert.public_bytes(serialization.Encoding.DER)
    check_peer_spiffe_id(der, SIDECAR_ID)
    with pytest.raises(SpiffeIdMismatch):
        check_peer_spiffe_id(der, SIDECAR_ID + "x")
    with pytest.raises(SpiffeIdMismatch):
        check_peer_spiffe_id(None, SIDECAR_ID)


def test_rotation_new_connections_use_the_new_svid_in_flight_requests_finish(ca: Ca, server: TlsServer) -> None:
    source = StaticSource(ca)
    first = format(source.svid.cert.serial_number, "x")
    with warden_for(source, server).httpx() as http:
        assert http.get("/whoami").json()["serial"] == first
        slow: dict[str, object] = {}
        worker = threading.Thread(target=lambda: slow.update(http.get("/slow?ms=800").json()))
        worker.start()
        second = format(source.rotate().cert.serial_number, "x")
        # A request on a new connection (the pooled one is busy with /slow) presents the new SVID.
        assert http.get("/whoami").json()["serial"] == second
        worker.join()
        assert slow["serial"] == first  # the in-flight request finished on its connection

    async def run() -> None:
        async with warden_for(source, server).async_httpx() as http:
            assert (await http.get("/whoami")).json()["serial"] == second

    anyio.run(run)
