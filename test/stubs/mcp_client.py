"""An agent's MCP calls with the official Python SDK (PyPI `mcp` 2.3.0), for the acceptance tests.

Usage: mcp_client.py <url> <mode> <steps.json> [--cert F --key F --ca F]
  mode      "auto" (probes server/discover: 2026-07-28 where the server speaks it), "legacy"
            (initialize handshake), or a pinned revision such as "2026-07-28"
  steps     a JSON list of {"op": "list_tools"|"call_tool"|"list_prompts"|"get_prompt"|"read_resource",
            "name"?, "uri"?, "arguments"?, "progress"?: true}
  --cert/--key/--ca  mTLS with the agent's X.509-SVID (the sidecar is checked against the bundle only:
            an SVID names a workload by URI SAN, not host name, and httpx cannot check a URI SAN)
Prints one JSON line per step: {"ok": result} or {"error": {"code", "message", "data"}}, then
{"protocol_version": ...}.
"""
import argparse
import asyncio
import json
import ssl
import sys

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError


def http_client(args: argparse.Namespace) -> httpx2.AsyncClient:
    verify: ssl.SSLContext | bool = True
    if args.cert:
        verify = ssl.create_default_context(cafile=args.ca)
        verify.check_hostname = False
        verify.load_cert_chain(args.cert, args.key)
    return httpx2.AsyncClient(verify=verify, timeout=httpx2.Timeout(30.0, read=60.0))


async def run_step(client: Client, step: dict) -> dict:
    op = step["op"]
    progress: list[float] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append(value)

    if op == "list_tools":
        result = await client.list_tools()
    elif op == "call_tool":
        result = await client.call_tool(
            step["name"],
            step.get("arguments", {}),
            progress_callback=on_progress if step.get("progress") else None,
        )
    elif op == "list_prompts":
        result = await client.list_prompts()
    elif op == "get_prompt":
        result = await client.get_prompt(step["name"], step.get("arguments", {}))
    elif op == "read_resource":
        result = await client.read_resource(step["uri"])
    else:
        raise ValueError(f"unknown op {op}")
    out = {"ok": result.model_dump(mode="json", by_alias=True, exclude_none=True)}
    if step.get("progress"):
        out["progress"] = progress
    return out


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("mode")
    parser.add_argument("steps")
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--ca")
    args = parser.parse_args()
    async with http_client(args) as http:
        transport = streamable_http_client(args.url, http_client=http)
        async with Client(transport, mode=args.mode, cache=None) as client:
            for step in json.loads(args.steps):
                try:
                    print(json.dumps(await run_step(client, step)), flush=True)
                except MCPError as error:
                    data = error.error
                    print(
                        json.dumps({"error": {"code": data.code, "message": data.message, "data": data.data}}),
                        flush=True,
                    )
            print(json.dumps({"protocol_version": client.protocol_version}), flush=True)


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except Exception as error:  # noqa: BLE001 - the test reads this line
        print(json.dumps({"fatal": f"{type(error).__name__}: {error}"}), flush=True)
        sys.exit(1)
