"""An approved agent through the real sidecar: plain httpx2, the official openai and anthropic SDKs,
streaming, delegation on behalf of a user, the sidecar's identity checked, refusals as typed errors."""

from __future__ import annotations

import json
import os
import ssl

import anyio
import httpx2
import pytest

from agent_warden import (
    DelegationError,
    PolicyDeniedError,
    Warden,
    WardenError,
    from_exception,
    raise_for_warden,
)
from .conftest import CHAT

pytestmark = pytest.mark.skipif(os.environ.get("WARDEN_SDK_PHASE") != "approved", reason="the approved phase")


def test_the_svid_is_the_agents_and_the_sidecar_is_verified_by_its_spiffe_id(warden: Warden) -> None:
    assert warden.spiffe_id.startswith("spiffe://warden.local/agent/")
    with warden.httpx() as http:
        response = http.post("/openai/v1/chat/completions", json=CHAT)
    assert response.status_code == 200, response.text
    assert response.headers["x-warden-decision-id"]
    assert response.json()["choices"][0]["message"]["content"]


def test_python_default_tls_fails_on_the_sidecar_and_a_wrong_sidecar_id_fails_closed(warden: Warden) -> None:
    # Python's own check cannot pass: the sidecar's SVID names it only by a URI SAN.
    default = ssl.create_default_context()
    default.load_verify_locations(cadata=ssl.DER_cert_to_PEM_cert(_sidecar_ca_der(warden)))
    with pytest.raises(httpx2.ConnectError, match="IP address mismatch"):
        httpx2.get(f"{warden.sidecar_url}/openai/v1/models", verify=default)
    # The SDK's check, expecting another SPIFFE ID, refuses the real Envoy before sending anything.
    with Warden.from_env(sidecar_spiffe_id="spiffe://warden.local/warden/not-the-sidecar") as other:
        with other.httpx() as http:
            with pytest.raises(httpx2.ConnectError, match="SPIFFE ID is spiffe://warden.local/warden/envoy"):
                http.post("/openai/v1/chat/completions", json=CHAT)


def _sidecar_ca_der(warden: Warden) -> bytes:
    ca = warden.ssl_context.current.get_ca_certs(binary_form=True)
    assert ca, "the SPIFFE bundle is loaded"
    return ca[0]


def test_async_httpx_streams_chunk_by_chunk(warden: Warden) -> None:
    async def run() -> list[str]:
        async with warden.async_httpx() as http:
            async with http.stream(
                "POST", "/openai/v1/chat/completions", json={**CHAT, "stream": True}, headers={"x-stub-events": "4"}
            ) as response:
                assert response.status_code == 200
                return [line async for line in response.aiter_lines() if line.startswith("data:")]

    events = anyio.run(run)
    assert events[-1] == "data: [DONE]"
    text = "".join(
        (json.loads(e[5:])["choices"] or [{}])[0].get("delta", {}).get("content") or "" for e in events[:-1]
    )
    assert text.strip() != ""


def test_openai_sdk_chat_and_stream(warden: Warden) -> None:
    client = warden.openai()
    completion = client.chat.completions.create(model="gpt-4o-mini", messages=CHAT["messages"])
    assert completion.choices[0].message.content
    stream = client.chat.completions.create(model="gpt-4o-mini", messages=CHAT["messages"], stream=True)
    chunks = [c.choices[0].delta.content or "" for c in stream if c.choices]
    assert "".join(chunks)


def test_async_openai_sdk(warden: Warden) -> None:
    async def run() -> str:
        client = warden.async_openai()
        completion = await client.chat.completions.create(model="gpt-4o-mini", messages=CHAT["messages"])
        await client.close()
        return completion.choices[0].message.content or ""

    assert anyio.run(run)


def test_anthropic_sdk_message_and_stream(warden: Warden) -> None:
    client = warden.anthropic()
    message = client.messages.create(
        model="claude-sonnet-4-5", max_tokens=64, messages=[{"role": "user", "content": "hi"}]
    )
    assert message.content[0].text
    with client.messages.stream(
        model="claude-sonnet-4-5", max_tokens=64, messages=[{"role": "user", "content": "hi"}]
    ) as stream:
        assert "".join(stream.text_stream)


def test_a_policy_refusal_through_the_openai_sdk_is_a_typed_error(warden: Warden) -> None:
    import openai

    client = warden.openai()
    with pytest.raises(openai.APIStatusError) as info:
        client.chat.completions.create(model="gpt-4o-mini-not-allowed-xyz", messages=CHAT["messages"])
    typed = from_exception(info.value)
    assert isinstance(typed, WardenError)
    assert typed.decision_id
    assert isinstance(typed, PolicyDeniedError), typed


def test_an_unknown_route_is_refused_as_policy_denied(warden: Warden) -> None:
    with warden.httpx() as http:
        with pytest.raises(WardenError) as info:
            raise_for_warden(http.get("/no-such-service/v1/x"))
    assert info.value.status in (403, 404)
    assert info.value.decision_id or info.value.status == 404


def test_delegation_on_behalf_of_a_user(warden: Warden) -> None:
    # The user's delegation rides along and the call passes as made on the user's behalf.
    with warden.on_behalf_of(os.environ["WARDEN_DELEGATION_TOKEN"]).httpx() as http:
        response = http.post("/openai/v1/chat/completions", json=CHAT)
    assert response.status_code == 200, response.text


def test_delegation_refusals_are_delegation_errors(warden: Warden) -> None:
    # A delegation limited to another service does not cover this call.
    with warden.on_behalf_of(os.environ["WARDEN_DELEGATION_TOKEN_NARROW"]).httpx() as http:
        with pytest.raises(DelegationError) as info:
            raise_for_warden(http.post("/openai/v1/chat/completions", json=CHAT))
    assert info.value.reason == "delegation_destination_not_allowed"
    assert info.value.decision_id
    # A malformed token is refused too, never passed on without the user.
    with warden.on_behalf_of("not-a-delegation-token").httpx() as http:
        with pytest.raises(DelegationError) as info:
            raise_for_warden(http.post("/openai/v1/chat/completions", json=CHAT))
    assert info.value.reason.startswith("delegation_")
