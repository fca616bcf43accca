"""The agent's X.509-SVID and trust bundle from the SPIFFE Workload API, kept current in the background.

Built on the PyPI `spiffe` package's X509Source (a gRPC stream of X509SVIDResponse updates from the
SPIRE agent): every update builds a fresh TLS context and hands it to the RotatingSSLContext the
clients hold. The SDK's clients (agent_warden.transport) notice the new context on their next request
and move to a fresh connection pool built with it, so no request goes out on a keep-alive connection
opened with an SVID that has since rotated (and may have expired).
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any, Callable, Optional

from spiffe import X509Source

from .tls import RotatingSSLContext, SpiffeClientContext, build_context

_log = logging.getLogger("agent_warden")


def _socket_endpoint(socket: Optional[str]) -> str:
    endpoint = socket or os.environ.get("SPIFFE_ENDPOINT_SOCKET", "")
    if not endpoint:
        raise ValueError("no Workload API socket: set SPIFFE_ENDPOINT_SOCKET (unix:///path/to/agent.sock)")
    return endpoint if "://" in endpoint or endpoint.startswith("unix:") else f"unix://{endpoint}"


class SvidSource:
    """The current SVID (as a TLS context and as facts: SPIFFE ID, serial, expiry), rotated in the background."""

    def __init__(
        self,
        expected_sidecar_id: str,
        *,
        socket: Optional[str] = None,
        timeout: float = 30.0,
        spiffe_id: Optional[str] = None,
    ) -> None:
        """`spiffe_id` picks this workload's SVID when the Workload API gives the process several."""
        self.expected_sidecar_id = expected_sidecar_id
        self._lock = threading.Lock()
        self._listeners: list[Callable[[], None]] = []
        self.serials_seen: list[str] = []
        picker = None
        if spiffe_id is not None:

            def picker(svids: list) -> object:  # type: ignore[type-arg]
                for svid in svids:
                    if str(svid.spiffe_id) == spiffe_id:
                        return svid
                raise ValueError(f"the Workload API gives no SVID for {spiffe_id}")

        self._spiffe_id_wanted = spiffe_id
        self._source = X509Source(
            socket_path=_socket_endpoint(socket), timeout_in_seconds=timeout, svid_picker=picker
        )
        self.ssl_context = RotatingSSLContext(self._build())
        self._source.subscribe_for_updates(self._on_update)

    def _build(self) -> SpiffeClientContext:
        context = self._source.get_x509_context()
        svid = next(
            (s for s in context.x509_svids if str(s.spiffe_id) == self._spiffe_id_wanted),
            context.default_svid,
        )
        authorities = [a for bundle in context.x509_bundle_set.bundles for a in bundle.x509_authorities]
        ctx = build_context(svid.cert_chain, svid.private_key, authorities, self.expected_sidecar_id)
        with self._lock:
            self._spiffe_id = str(svid.spiffe_id)
            self._leaf = svid.leaf
            serial = format(svid.leaf.serial_number, "x")
            if not self.serials_seen or self.serials_seen[-1] != serial:
                self.serials_seen.append(serial)
        return ctx

    def _on_update(self) -> None:
        try:
            self.ssl_context.update(self._build())
        except Exception:  # keep the last good context; the next update may be fine
            _log.exception("could not load the rotated SVID; keeping the previous one")
            return
        for listener in list(self._listeners):
            listener()

    def on_rotate(self, listener: Callable[[], None]) -> None:
        """Calls `listener` after each SVID update has been loaded."""
        self._listeners.append(listener)

    @property
    def spiffe_id(self) -> str:
        with self._lock:
            return self._spiffe_id

    @property
    def serial(self) -> str:
        with self._lock:
            return format(self._leaf.serial_number, "x")

    @property
    def leaf(self) -> Any:
        """The current SVID's leaf certificate (cryptography x509.Certificate)."""
        with self._lock:
            return self._leaf

    @property
    def expires_at(self) -> float:
        with self._lock:
            return self._leaf.not_valid_after_utc.timestamp()

    @property
    def closed(self) -> bool:
        return self._source.is_closed()

    def close(self) -> None:
        self._source.close()
