"""Every reason in the shared table raises its family's class, whichever shape the refusal arrives in."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import agent_warden
from agent_warden.errors import FAMILIES, error_from_body, load_reason_table, parse_retry_after

TABLE = json.loads((Path(__file__).resolve().parents[2] / "reasons.json").read_text("utf-8"))
REASONS = sorted(TABLE["reasons"].items())


def shapes(reason: str, status: int) -> dict[str, object]:
    """The refusal bodies Warden sends (lib/src/llm/error-shapes.ts), by dialect."""
    return {
        "warden": {"error": {"code": reason, "message": "m", "decision_id": "d-1"}},
        "openai": {"error": {"message": "m", "type": "t", "param": None, "code": reason, "decision_id": "d-1"}},
        "anthropic": {"type": "error", "error": {"type": "t", "message": "m", "code": reason, "decision_id": "d-1"}},
        "google": {
            "error": {
                "code": status,
                "message": "m",
                "status": "S",
                "details": [{"@type": "x", "reason": reason, "domain": "agent-warden", "metadata": {"decision_id": "d-1"}}],
            }
        },
        "jsonrpc": {"jsonrpc": "2.0", "id": 7, "error": {"code": -32050, "message": "m", "data": {"reason": reason, "decision_id": "d-1"}}},
    }


def test_every_family_in_the_table_is_an_exported_class() -> None:
    for family in TABLE["families"]:
        assert getattr(agent_warden, family) is FAMILIES[family]
    assert load_reason_table(TABLE).reasons  # no unknown family anywhere


@pytest.mark.parametrize("reason,entry", REASONS)
def test_reason_raises_its_family_in_every_shape(reason: str, entry: dict[str, object]) -> None:
    status = int(entry["status"])  # type: ignore[arg-type]
    for dialect, body in shapes(reason, status).items():
        error = error_from_body(status, body)
        assert type(error).__name__ == entry["family"], dialect
        assert (error.reason, error.decision_id, error.status) == (reason, "d-1", status)
        assert isinstance(error, agent_warden.WardenError)


def test_approval_hold_carries_its_approval_facts() -> None:
    body = {
        "jsonrpc": "2.0",
        "id": 3,
        "error": {
            "code": -32051,
            "message": "approval required",
            "data": {
                "reason": "approval_required",
                "decision_id": "d-9",
                "approval_id": "ap-1",
                "approval_url": "https://cp/approvals/ap-1",
                "expires_at": "2026-12-07T22:00:00Z",
            },
        },
    }
    error = error_from_body(200, body)
    assert isinstance(error, agent_warden.ApprovalRequiredError)
    assert (error.approval_id, error.approval_url, error.expires_at) == ("ap-1", "https://cp/approvals/ap-1", "2026-12-07T22:00:00Z")


def test_unknown_reasons_fall_back_on_prefix_then_status() -> None:
    assert isinstance(error_from_body(403, {"error": {"code": "kya_brand_new"}}), agent_warden.KyaError)
    assert isinstance(error_from_body(503, {"error": {"code": "brand_new"}}), agent_warden.UnavailableError)
    assert isinstance(error_from_body(429, None), agent_warden.RateLimitedError)
    assert error_from_body(418, "not json").reason == "http_418"


def test_retry_after_seconds_and_dates() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
