"""A local mTLS HTTPS server standing in for the sidecar's TLS edge in the offline tests.

It requires a client certificate from the CA, and answers:
  GET /whoami             {"serial": <client cert serial hex>, "uris": [...]}
  GET /slow?ms=N          the same, N ms later
  GET /stream?chunks=N&ms=M  a chunked answer: N JSON lines (the /whoami body plus "i"), M ms apart
  GET|POST /refuse?status=S&reason=R&after=A&times=K   Warden's error body with status S (Retry-After A)
                          for the first K calls of that reason, then 200 {"ok": true}
"""

from __future__ import annotations

import json
import os
import ssl
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from cryptography import x509

from .pki import Ca, Svid


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "_Server"

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def _send(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802
        url = urlparse(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        self.server.seen_headers.append(dict(self.headers))
        der = self.connection.getpeercert(binary_form=True)  # type: ignore[attr-defined]
        cert = x509.load_der_x509_certificate(der)
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        me = {
            "serial": format(cert.serial_number, "x"),
            "uris": san.get_values_for_type(x509.UniformResourceIdentifier),
            "port": self.client_address[1],  # the client's end of the connection: same port, same connection
        }
        if url.path == "/whoami":
            return self._send(200, me)
        if url.path == "/slow":
            time.sleep(int(query.get("ms", "500")) / 1000)
            return self._send(200, me)
        if url.path == "/stream":
            self.send_response(200)
            self.send_header("content-type", "application/x-ndjson")
            self.send_header("transfer-encoding", "chunked")
            self.end_headers()
            for i in range(int(query.get("chunks", "3"))):
                line = json.dumps({**me, "i": i}).encode() + b"\n"
                self.wfile.write(f"{len(line):x}\r\n".encode() + line + b"\r\n")
                self.wfile.flush()
                time.sleep(int(query.get("ms", "100")) / 1000)
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
            return None
        if url.path == "/refuse":
            reason = query.get("reason", "rate_limited")
            with self.server.lock:
                count = self.server.refusals.get(reason, 0)
                self.server.refusals[reason] = count + 1
            if count < int(query.get("times", "1")):
                headers = {"x-warden-decision-id": f"dec-{count}"}
                if "after" in query:
                    headers["retry-after"] = query["after"]
                body = {"error": {"code": reason, "message": "refused", "decision_id": f"dec-{count}"}}
                return self._send(int(query.get("status", "429")), body, headers)
            return self._send(200, {"ok": True, "attempts": count + 1})
        self._send(404, {"error": {"code": "not_found", "message": "no route"}})

    def do_POST(self) -> None:  # noqa: N802 - the body is read and dropped; the answer is GET's
        self.rfile.read(int(self.headers.get("content-length", "0")))
        self.do_GET()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    lock: threading.Lock
    refusals: dict[str, int]
    seen_headers: list[dict[str, str]]


class TlsServer:
    def __init__(self, ca: Ca, server_svid: Svid) -> None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(cadata=ca.pem().decode())
        with tempfile.TemporaryDirectory() as tmp:
            cert, key = os.path.join(tmp, "c.pem"), os.path.join(tmp, "k.pem")
            open(cert, "wb").write(server_svid.cert_pem() + ca.pem())
            open(key, "wb").write(server_svid.key_pem())
            ctx.load_cert_chain(cert, key)
        self.httpd = _Server(("127.0.0.1", 0), _Handler)
        self.httpd.lock = threading.Lock()
        self.httpd.refusals = {}
        self.httpd.seen_headers = []
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.url = f"https://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()

    @property
    def seen_headers(self) -> list[dict[str, str]]:
        return self.httpd.seen_headers

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
