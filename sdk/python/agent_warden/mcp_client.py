"""The official `mcp` client over Streamable HTTP, through the agent's sidecar (/mcp/<server>/).

Warden's refusals on MCP routes are JSON-RPC errors the SDK raises as mcp.MCPError (a refused
request with an id is HTTP 200 + code -32050, an approval hold -32051); anything raised out of
`open_session` is translated into the typed WardenError family, and `call_skill`, `get_data`,
`write_data` raise the typed errors directly.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, AsyncIterator, Optional

import httpx2

from .errors import WardenError, error_from_response, from_exception

if TYPE_CHECKING:
    from mcp import ClientSession

    from .client import Warden


def _typed(exc: BaseException) -> Optional[WardenError]:
    """The WardenError behind an exception the mcp SDK raised (also inside an exception group)."""
    if isinstance(exc, WardenError):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            typed = _typed(inner)
            if typed is not None:
                return typed
        return None
    if isinstance(exc, httpx2.HTTPStatusError):
        return error_from_response(exc.response)
    from mcp.shared.exceptions import MCPError

    if isinstance(exc, MCPError):
        return from_exception(exc)
    return None


@asynccontextmanager
async def open_session(
    warden: "Warden", server: str, *, path: str = "mcp", **session_kwargs: Any
) -> AsyncIterator["ClientSession"]:
    """An initialized mcp.ClientSession on `server` through the sidecar; refusals raise WardenError."""
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    # SSE streams stay open between events: no read timeout, a connect timeout still.
    http = warden.async_httpx(timeout=httpx2.Timeout(30.0, read=300.0))
    try:
        async with http:
            async with streamable_http_client(warden.mcp_url(server, path), http_client=http) as (read, write):
                async with ClientSession(read, write, **session_kwargs) as session:
                    await session.initialize()
                    yield session
    except BaseException as exc:  # noqa: BLE001 - translated when it is a Warden refusal
        typed = _typed(exc)
        if typed is exc:
            raise
        if typed is not None:
            raise typed from exc
        raise


async def call_skill(warden: "Warden", server: str, tool: str, arguments: Optional[dict[str, Any]] = None) -> Any:
    """tools/call of `tool` on MCP server `server`; the CallToolResult, or a typed refusal."""
    async with open_session(warden, server) as session:
        try:
            return await session.call_tool(tool, arguments or {})
        except Exception as exc:
            typed = _typed(exc)
            if typed is not None:
                raise typed from exc
            raise


async def get_data(warden: "Warden", server: str, uri: str) -> Any:
    """resources/read of `uri` on MCP server `server`: the ReadResourceResult's contents."""
    async with open_session(warden, server) as session:
        try:
            result = await session.read_resource(uri)
        except Exception as exc:
            typed = _typed(exc)
            if typed is not None:
                raise typed from exc
            raise
        return result.contents


async def write_data(
    warden: "Warden",
    server: str,
    uri: str,
    content: str,
    *,
    tool: str = "write_resource",
) -> Any:
    """Writes `content` at `uri` with the server's write tool (MCP resources are read-only)."""
    return await call_skill(warden, server, tool, {"uri": uri, "content": content})
