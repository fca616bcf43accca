"""`Warden`: the agent's handle on its sidecar. One SVID source, many ready clients.

    warden = Warden.from_env()
    with warden.httpx() as http: ...                     # httpx2.Client, verified mTLS, retries
    openai_client = warden.openai()                        # official openai SDK through the sidecar
    alice = warden.on_behalf_of(delegation_token)          # the same, with x-warden-delegation
"""

from __future__ import annotations

import os
from typing import Any, Optional

import httpx2

from .identity import SvidSource
from .retry import AsyncRetryTransport, RetryPolicy, RetryTransport
from .transport import AsyncSvidTransport, SvidTransport

DELEGATION_HEADER = "x-warden-delegation"
DEFAULT_SIDECAR_URL = "https://127.0.0.1:10000"
DEFAULT_TRUST_DOMAIN = "warden.local"


def default_sidecar_id() -> str:
    explicit = os.environ.get("WARDEN_SIDECAR_SPIFFE_ID")
    if explicit:
        return explicit
    return f"spiffe://{os.environ.get('WARDEN_TRUST_DOMAIN', DEFAULT_TRUST_DOMAIN)}/warden/envoy"


class Warden:
    """The agent's SVID and its sidecar; builds clients that talk to the sidecar over verified mTLS."""

    def __init__(
        self,
        source: SvidSource,
        sidecar_url: str,
        *,
        headers: Optional[dict[str, str]] = None,
        retry: RetryPolicy = RetryPolicy(),
        owns_source: bool = True,
    ) -> None:
        self.source = source
        self.sidecar_url = sidecar_url.rstrip("/")
        self.headers = dict(headers or {})
        self.retry = retry
        self._owns_source = owns_source

    @classmethod
    def from_env(
        cls,
        *,
        sidecar_url: Optional[str] = None,
        sidecar_spiffe_id: Optional[str] = None,
        socket: Optional[str] = None,
        retry: RetryPolicy = RetryPolicy(),
        timeout: float = 30.0,
    ) -> "Warden":
        """From WARDEN_SIDECAR_URL, WARDEN_SIDECAR_SPIFFE_ID (or WARDEN_TRUST_DOMAIN), SPIFFE_ENDPOINT_SOCKET."""
        source = SvidSource(sidecar_spiffe_id or default_sidecar_id(), socket=socket, timeout=timeout)
        url = sidecar_url or os.environ.get("WARDEN_SIDECAR_URL") or DEFAULT_SIDECAR_URL
        return cls(source, url, retry=retry)

    # -- identity -------------------------------------------------------------------------------
    @property
    def spiffe_id(self) -> str:
        """The agent's own SPIFFE ID (from its current SVID)."""
        return self.source.spiffe_id

    @property
    def ssl_context(self):  # type: ignore[no-untyped-def]
        """The rotating, sidecar-verifying TLS context, for your own httpx2 client (`verify=`).

        It presents the newest SVID on each NEW connection only; a pooled keep-alive connection keeps
        the SVID it was opened with, and the sidecar refuses it once that SVID expires. Prefer
        `httpx()` / `async_httpx()`, whose transports move to a fresh pool on every rotation.
        """
        return self.source.ssl_context

    def on_behalf_of(self, delegation_token: str) -> "Warden":
        """A view whose clients carry the user's delegation token (x-warden-delegation) on every call."""
        if not delegation_token or any(c in delegation_token for c in "\r\n"):
            raise ValueError("a delegation token is a non-empty single line")
        return Warden(
            self.source,
            self.sidecar_url,
            headers={**self.headers, DELEGATION_HEADER: delegation_token},
            retry=self.retry,
            owns_source=False,
        )

    def close(self) -> None:
        if self._owns_source:
            self.source.close()

    def __enter__(self) -> "Warden":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plain HTTP -----------------------------------------------------------------------------
    def url(self, path: str) -> str:
        return f"{self.sidecar_url}/{path.lstrip('/')}"

    def httpx(self, base_path: str = "", **kwargs: Any) -> httpx2.Client:
        """An httpx2.Client on the sidecar (base URL `sidecar_url/base_path`), mTLS with the SVID, retries.

        Its connections are pooled per SVID: after a rotation new requests go out on connections made
        with the new SVID, and the old pool closes once its in-flight requests (and streams) finish.
        """
        transport = RetryTransport(SvidTransport(self.ssl_context), self.retry)
        headers = {**self.headers, **kwargs.pop("headers", {})}
        kwargs.setdefault("timeout", httpx2.Timeout(60.0, connect=10.0))
        return httpx2.Client(base_url=self.url(base_path), transport=transport, headers=headers, **kwargs)

    def async_httpx(self, base_path: str = "", **kwargs: Any) -> httpx2.AsyncClient:
        """The httpx2.AsyncClient twin of `httpx()`."""
        transport = AsyncRetryTransport(AsyncSvidTransport(self.ssl_context), self.retry)
        headers = {**self.headers, **kwargs.pop("headers", {})}
        kwargs.setdefault("timeout", httpx2.Timeout(60.0, connect=10.0))
        return httpx2.AsyncClient(base_url=self.url(base_path), transport=transport, headers=headers, **kwargs)

    # -- official provider SDKs -----------------------------------------------------------------
    # The agent holds no provider key: Warden injects the tenant's key from OpenBao and strips
    # whatever the agent sends, so the SDKs get a placeholder they insist on.
    _PLACEHOLDER_KEY = "warden-injects-the-key"

    def openai(self, **kwargs: Any) -> Any:
        """openai.OpenAI through the sidecar's /openai/v1 route (retries are Warden's, not the SDK's)."""
        import openai

        kwargs.setdefault("max_retries", 0)
        return openai.OpenAI(
            base_url=self.url("openai/v1"),
            api_key=self._PLACEHOLDER_KEY,
            http_client=self.httpx(),
            **kwargs,
        )

    def async_openai(self, **kwargs: Any) -> Any:
        import openai

        kwargs.setdefault("max_retries", 0)
        return openai.AsyncOpenAI(
            base_url=self.url("openai/v1"),
            api_key=self._PLACEHOLDER_KEY,
            http_client=self.async_httpx(),
            **kwargs,
        )

    def anthropic(self, **kwargs: Any) -> Any:
        """anthropic.Anthropic through the sidecar's /anthropic route."""
        import anthropic

        kwargs.setdefault("max_retries", 0)
        return anthropic.Anthropic(
            base_url=self.url("anthropic"),
            api_key=self._PLACEHOLDER_KEY,
            http_client=self.httpx(),
            **kwargs,
        )

    def async_anthropic(self, **kwargs: Any) -> Any:
        import anthropic

        kwargs.setdefault("max_retries", 0)
        return anthropic.AsyncAnthropic(
            base_url=self.url("anthropic"),
            api_key=self._PLACEHOLDER_KEY,
            http_client=self.async_httpx(),
            **kwargs,
        )

    # -- MCP ------------------------------------------------------------------------------------
    def mcp_url(self, server: str, path: str = "mcp") -> str:
        """The sidecar's route to the registered MCP server `server`: /mcp/<server>/<the server's path>."""
        if not server or "/" in server:
            raise ValueError(f"not an MCP server name: {server!r}")
        return self.url(f"mcp/{server}/{path.lstrip('/')}")

    def mcp_session(self, server: str, *, path: str = "mcp", **kwargs: Any) -> Any:
        """An async context manager yielding an initialized mcp.ClientSession on `server` via the sidecar."""
        from .mcp_client import open_session

        return open_session(self, server, path=path, **kwargs)
