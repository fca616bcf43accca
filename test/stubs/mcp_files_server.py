"""A third-party MCP server on the official Python SDK (PyPI `mcp` 2.3.0), for the acceptance tests.

It speaks MCP 2026-07-28 (stateless: each POST carries MCP-Protocol-Version, Mcp-Method, Mcp-Name)
and the handshake revisions, with the same tools as test/stubs/mcp-files-server.ts. GET /calls
answers how many times each tool ran, so a test can show a refused call never reached it.

Usage: mcp_files_server.py <port>     prints "listening <port>" once it accepts connections.
"""
import asyncio
import sys
from collections import Counter

import uvicorn
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.requests import Request
from starlette.responses import JSONResponse

ECHOED_SECRET = "sk-live-mcpstub-0123456789abcdefghijklmnop"
files: dict[str, str] = {"readme.md": "# files\nA test store."}
calls: Counter[str] = Counter()
server = MCPServer("files", version="1.0.0")


@server.tool()
def read_file(path: str) -> str:
    """Read a file"""
    calls["read_file"] += 1
    return files.get(path, "")


@server.tool()
def create_file(path: str, content: str) -> str:
    """Create a file"""
    calls["create_file"] += 1
    files[path] = content
    return f"created {path}"


@server.tool()
def delete_file(path: str) -> str:
    """Delete a file"""
    calls["delete_file"] += 1
    files.pop(path, None)
    return f"deleted {path}"


@server.tool()
def share_file(path: str, recipient: str) -> str:
    """Share a file"""
    calls["share_file"] += 1
    return f"shared {path} with {recipient}"


@server.tool()
async def slow_report(steps: int, delay_ms: int, ctx: Context) -> str:
    """A report that takes a while, with progress"""
    calls["slow_report"] += 1
    for step in range(1, steps + 1):
        await asyncio.sleep(delay_ms / 1000)
        await ctx.report_progress(step, steps, f"step {step}")
    return f"report done after {steps} steps"


@server.tool()
def echo_secret() -> str:
    """Echo a configuration value"""
    calls["echo_secret"] += 1
    return f"the key is {ECHOED_SECRET}"


@server.prompt()
def summarize(path: str) -> str:
    """Summarize a file"""
    return f"Summarize {path}"


@server.resource("file:///readme.md")
def readme() -> str:
    """The readme"""
    return files["readme.md"]


@server.custom_route("/calls", methods=["GET"])
async def call_counts(_request: Request) -> JSONResponse:
    return JSONResponse(dict(calls))


def main() -> None:
    port = int(sys.argv[1])
    # Requests arrive through a proxy (Warden's sidecars) under another Host: no DNS-rebinding check.
    app = server.streamable_http_app(
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False)
    )
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    uv = uvicorn.Server(config)

    async def serve() -> None:
        task = asyncio.create_task(uv.serve())
        while not uv.started:
            await asyncio.sleep(0.05)
        print(f"listening {port}", flush=True)
        await task

    asyncio.run(serve())


if __name__ == "__main__":
    main()
