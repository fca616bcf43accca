"""A rotated SVID moves the next requests onto new connections made with it, while a request already
streaming on the old SVID's connection runs to its end; the old connections then close.

The sidecar checks the client certificate of the connection on every request, so a keep-alive
connection opened with an SVID must not carry requests after a rotation: once that SVID expires the
sidecar answers 401 certificate_expired.
"""

from __future__ import annotations

import json

import anyio
import httpx2

from agent_warden import Warden

from .conftest import StaticSource
from .pki import Ca
from .tls_server import TlsServer


def serial(source: StaticSource) -> str:
    return format(source.svid.cert.serial_number, "x")


def test_sync_rotation_moves_pooled_requests_to_a_new_connection_and_spares_a_stream(
    ca: Ca, server: TlsServer
) -> None:
    source = StaticSource(ca)
    first = serial(source)
    with Warden(source, server.url).httpx() as http:  # type: ignore[arg-type]
        a = http.get("/whoami").json()
        b = http.get("/whoami").json()
        assert a["serial"] == b["serial"] == first
        assert a["port"] == b["port"]  # one keep-alive connection, reused

        source.rotate()
        second = serial(source)
        c = http.get("/whoami").json()
        # Not the idle pooled connection of the first SVID: a new one, with the new certificate.
        assert c["serial"] == second
        assert c["port"] != a["port"]

        with http.stream("GET", "/stream?chunks=4&ms=150") as stream:
            lines = stream.iter_lines()
            head = json.loads(next(lines))
            assert head["serial"] == second
            source.rotate()
            third = serial(source)
            during = http.get("/whoami").json()
            assert during["serial"] == third
            assert during["port"] not in (head["port"], a["port"])
            rest = [json.loads(line) for line in lines]
        # The stream opened on the second SVID's connection finished there, every chunk delivered.
        assert [r["i"] for r in [head, *rest]] == [0, 1, 2, 3]
        assert {r["serial"] for r in rest} == {second}
        assert {r["port"] for r in rest} == {head["port"]}

        after = http.get("/whoami").json()
        assert after["serial"] == third and after["port"] == during["port"]  # the new pool, kept alive


def test_async_rotation_moves_pooled_requests_to_a_new_connection_and_spares_a_stream(
    ca: Ca, server: TlsServer
) -> None:
    source = StaticSource(ca)
    first = serial(source)

    async def run() -> None:
        async with Warden(source, server.url).async_httpx() as http:  # type: ignore[arg-type]
            a = (await http.get("/whoami")).json()
            b = (await http.get("/whoami")).json()
            assert a["serial"] == b["serial"] == first and a["port"] == b["port"]

            source.rotate()
            second = serial(source)
            c = (await http.get("/whoami")).json()
            assert c["serial"] == second and c["port"] != a["port"]

            async with http.stream("GET", "/stream?chunks=4&ms=150") as stream:
                lines = stream.aiter_lines()
                head = json.loads(await lines.__anext__())
                assert head["serial"] == second
                source.rotate()
                third = serial(source)
                during = (await http.get("/whoami")).json()
                assert during["serial"] == third and during["port"] != head["port"]
                rest = [json.loads(line) async for line in lines]
            assert [r["i"] for r in [head, *rest]] == [0, 1, 2, 3]
            assert {r["serial"] for r in rest} == {second}

    anyio.run(run)


def test_the_old_pool_closes_once_its_stream_ends(ca: Ca, server: TlsServer) -> None:
    from agent_warden.transport import SvidTransport

    source = StaticSource(ca)
    transport = SvidTransport(source.ssl_context)
    with httpx2.Client(base_url=server.url, transport=transport) as http:
        http.get("/whoami")
        with http.stream("GET", "/stream?chunks=2&ms=100") as stream:
            source.rotate()
            http.get("/whoami")
            assert transport.pool_count == 2  # the old one still serves the stream
            stream.read()
        assert transport.pool_count == 1
