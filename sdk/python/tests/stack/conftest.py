"""The suites here run against the real stack (`warden up`), started by test/integration/sdk-python.test.ts,
which passes WARDEN_SDK_STACK=1, WARDEN_SIDECAR_URL, WARDEN_SIDECAR_SPIFFE_ID, SPIFFE_ENDPOINT_SOCKET,
WARDEN_AGENT_SPIFFE_ID and (for the delegation test) WARDEN_DELEGATION_TOKEN."""

from __future__ import annotations

import os
from typing import Iterator

import pytest

from agent_warden import Warden

if os.environ.get("WARDEN_SDK_STACK") != "1":
    pytest.skip("needs the running stack (test/integration/sdk-python.test.ts)", allow_module_level=True)

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture(scope="session")
def warden() -> Iterator[Warden]:
    with Warden.from_env() as w:
        yield w
