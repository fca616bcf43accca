"""Before KYA approval: the agent's calls surface as KyaError with the reason and the decision id."""

from __future__ import annotations

import os
import time

import pytest

from agent_warden import KyaError, Warden, WardenError, raise_for_warden

from .conftest import CHAT

pytestmark = pytest.mark.skipif(os.environ.get("WARDEN_SDK_PHASE") != "unapproved", reason="the unapproved phase")


def test_kya_pending_is_a_kya_error(warden: Warden) -> None:
    deadline = time.monotonic() + 20
    last: WardenError | None = None
    with warden.httpx() as http:
        while time.monotonic() < deadline:  # until the registry row reached authz-server
            try:
                raise_for_warden(http.post("/openai/v1/chat/completions", json=CHAT))
            except WardenError as error:
                last = error
                if isinstance(error, KyaError):
                    break
            time.sleep(0.2)
    assert isinstance(last, KyaError), last
    assert last.reason == "kya_pending"
    assert last.status == 403
    assert last.decision_id
