"""Calls through the sidecar for a while with the SDK, across SVID rotations; prints a JSON summary.

Usage:
  rotation_check.py [--seconds 180] [--interval-ms 250] [--path /openai/v1/chat/completions] [--method POST|GET] [--fresh-every 0]

Environment: WARDEN_SIDECAR_URL, WARDEN_SIDECAR_SPIFFE_ID (or WARDEN_TRUST_DOMAIN),
SPIFFE_ENDPOINT_SOCKET; sdk/python on PYTHONPATH (scripts/setup puts it on the tools venv's path).

Each call is a chat completion (POST, JSON; --method GET sends no body, e.g. --path /openai/v1/models)
through one long-lived httpx2 client, on its pooled keep-alive connections like a real agent's
(a connection opened with an SVID that has since expired is refused by the sidecar, so this checks
that the SDK moves to connections made with the new SVID after each rotation). --fresh-every N > 0
additionally sends every N'th call through a new client (off by default: it would hide that bug). A call fails when it raises or does not
answer 200. The last line of stdout is the summary:
  {"calls": N, "failures": N, "serials": ["<hex>", ...], "rotations": N, "spiffe_id": "...",
   "seconds": S, "errors": ["<first few failures>"]}
Exit code 0 when failures == 0 and calls > 0, else 1.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx2  # noqa: E402

from agent_warden import Warden  # noqa: E402

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "rotation check"}]}


def call(http: httpx2.Client, args: argparse.Namespace) -> httpx2.Response:
    if args.method == "GET":
        return http.get(args.path)
    return http.post(args.path, json=CHAT)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=180.0)
    parser.add_argument("--interval-ms", type=int, default=250)
    parser.add_argument("--path", default="/openai/v1/chat/completions")
    parser.add_argument("--method", choices=("POST", "GET"), default="POST")
    parser.add_argument("--fresh-every", type=int, default=0)
    args = parser.parse_args()

    calls = failures = 0
    errors: list[str] = []
    started = time.monotonic()
    with Warden.from_env() as warden, warden.httpx() as http:
        while time.monotonic() - started < args.seconds:
            calls += 1
            try:
                if args.fresh_every > 0 and calls % args.fresh_every == 0:
                    with warden.httpx() as fresh:
                        response = call(fresh, args)
                else:
                    response = call(http, args)
                if response.status_code != 200:
                    failures += 1
                    errors.append(f"{response.status_code} {response.text[:200]}")
            except Exception as exc:  # noqa: BLE001 - every failure is counted and reported
                failures += 1
                errors.append(f"{type(exc).__name__}: {exc}"[:300])
            time.sleep(args.interval_ms / 1000)
        serials = list(warden.source.serials_seen)
        summary = {
            "calls": calls,
            "failures": failures,
            "serials": serials,
            "rotations": len(serials) - 1,
            "spiffe_id": warden.spiffe_id,
            "seconds": round(time.monotonic() - started, 1),
            "errors": errors[:5],
        }
    print(json.dumps(summary), flush=True)
    return 0 if failures == 0 and calls > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
