from __future__ import annotations

import sys
from pathlib import Path
from typing import Iterator

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent_warden.tls import RotatingSSLContext, build_context  # noqa: E402

from .pki import Ca, Svid  # noqa: E402
from .tls_server import TlsServer  # noqa: E402

SIDECAR_ID = "spiffe://warden.local/warden/envoy"
AGENT_ID = "spiffe://warden.local/agent/test"


class StaticSource:
    """An SvidSource stand-in fed by the test CA (the Workload API one is exercised against SPIRE)."""

    def __init__(self, ca: Ca, expected: str = SIDECAR_ID) -> None:
        self.ca = ca
        self.expected_sidecar_id = expected
        self.svid = ca.issue(AGENT_ID)
        self.ssl_context = RotatingSSLContext(self._ctx(self.svid))
        self.spiffe_id = AGENT_ID

    def _ctx(self, svid: Svid):  # type: ignore[no-untyped-def]
        return build_context([svid.cert], svid.key, [self.ca.cert], self.expected_sidecar_id)

    def rotate(self) -> Svid:
        self.svid = self.ca.issue(AGENT_ID)
        self.ssl_context.update(self._ctx(self.svid))
        return self.svid

    def close(self) -> None:
        pass


@pytest.fixture(scope="session")
def ca() -> Ca:
    return Ca()


@pytest.fixture
def server(ca: Ca) -> Iterator[TlsServer]:
    s = TlsServer(ca, ca.issue(SIDECAR_ID))
    yield s
    s.close()
