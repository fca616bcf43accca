"""MCP through the sidecar with the official `mcp` client: allowed calls work, refusals are typed errors."""

from __future__ import annotations

import os

import anyio
import pytest

from agent_warden import ApprovalRequiredError, PolicyDeniedError, Warden, call_skill, get_data

pytestmark = pytest.mark.skipif(os.environ.get("WARDEN_SDK_PHASE") != "approved", reason="the approved phase")
SERVER = os.environ.get("WARDEN_SDK_MCP_SERVER", "files")


def text_of(result: object) -> str:
    return "".join(getattr(part, "text", "") for part in getattr(result, "content", []))


def test_session_lists_only_the_allowed_tools_and_calls_one(warden: Warden) -> None:
    async def run() -> tuple[list[str], str]:
        async with warden.mcp_session(SERVER) as session:
            tools = await session.list_tools()
            result = await session.call_tool("read_file", {"path": "readme.md"})
            return sorted(tool.name for tool in tools.tools), text_of(result)

    names, text = anyio.run(run)
    assert "read_file" in names
    assert "delete_file" not in names
    assert text == "# files\nA test store."


def test_call_skill_and_get_data(warden: Warden) -> None:
    assert text_of(anyio.run(call_skill, warden, SERVER, "read_file", {"path": "readme.md"})) == "# files\nA test store."
    contents = anyio.run(get_data, warden, SERVER, "file:///readme.md")
    assert "A test store." in "".join(getattr(c, "text", "") for c in contents)


def test_a_forbidden_tool_is_policy_denied_with_reason_and_decision(warden: Warden) -> None:
    with pytest.raises(PolicyDeniedError) as info:
        anyio.run(call_skill, warden, SERVER, "delete_file", {"path": "readme.md"})
    assert info.value.reason.startswith("mcp_")
    assert info.value.decision_id


def test_a_tool_needing_approval_raises_approval_required_with_its_link(warden: Warden) -> None:
    with pytest.raises(ApprovalRequiredError) as info:
        anyio.run(call_skill, warden, SERVER, "share_file", {"path": "readme.md", "with": "bob@example.com"})
    assert info.value.reason == "approval_required"
    assert info.value.approval_id
    assert info.value.decision_id
