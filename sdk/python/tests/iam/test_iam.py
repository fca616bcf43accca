"""register_agent and the token service against the real control plane (test/integration/sdk-python-iam.test.ts)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from typing import Iterator

import pytest
from cryptography.hazmat.primitives import serialization

from agent_warden import DelegationError, PolicyDeniedError, TokenService, register_agent

if os.environ.get("WARDEN_SDK_IAM") != "1":
    pytest.skip("needs the control plane (test/integration/sdk-python-iam.test.ts)", allow_module_level=True)

AGENT = os.environ.get("WARDEN_AGENT_SPIFFE_ID", "")


def claims(jws: str) -> dict[str, object]:
    payload = jws.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


@pytest.fixture(scope="module")
def tokens() -> Iterator[TokenService]:
    with TokenService.connect(os.environ["WARDEN_TOKEN_SERVICE_URL"], spiffe_id=AGENT) as service:
        yield service


def test_register_agent_as_a_creator_and_refused_without_the_role() -> None:
    fields = dict(tenant="acme", team="engineering", type="assistant", environment="production", capabilities=["llm:chat"])
    agent = register_agent(os.environ["WARDEN_API_URL"], os.environ["WARDEN_CREATOR_TOKEN"], name="sdk-py-registered", **fields)  # type: ignore[arg-type]
    assert str(agent["spiffe_id"]).startswith("spiffe://warden.local/")
    assert agent["tenant"] == "acme"
    with pytest.raises(PolicyDeniedError) as info:
        register_agent(os.environ["WARDEN_API_URL"], os.environ["WARDEN_USER_TOKEN"], name="not-allowed-bot", **fields)  # type: ignore[arg-type]
    assert info.value.status == 403


def test_get_token_is_bound_to_the_svid_and_a_wider_scope_is_refused(tokens: TokenService) -> None:
    token = tokens.get_token(["llm:chat"])
    assert token.scopes == ["llm:chat"]
    c = claims(token.access_token)
    assert c["sub"] == AGENT
    # Bound to the SVID it was asked with (RFC 8705 x5t#S256 of the leaf certificate).
    der = tokens.source.leaf.public_bytes(serialization.Encoding.DER)
    thumb = base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode()
    assert c["cnf"] == {"x5t#S256": thumb}
    with pytest.raises(PolicyDeniedError) as info:
        tokens.get_token(["google-drive:write"])
    assert (info.value.status, info.value.reason) == (400, "invalid_scope")


def test_exchange_delegation_acts_for_the_user_and_a_forged_one_is_a_delegation_error(tokens: TokenService) -> None:
    delegation = os.environ["WARDEN_DELEGATION_TOKEN"]
    token = tokens.exchange_delegation(delegation, audience="google-drive")
    c = claims(token.access_token)
    assert c["act"] == {"sub": AGENT}
    assert c["delegation_id"] == os.environ["WARDEN_DELEGATION_ID"]
    with pytest.raises(DelegationError) as info:
        tokens.exchange_delegation(delegation[:-4] + "AAAA")
    assert (info.value.status, info.value.reason) == (400, "invalid_grant")


def test_revoke_token_makes_it_inactive(tokens: TokenService) -> None:
    token = tokens.get_token()
    assert tokens.introspect(token.access_token)["active"] is True
    tokens.revoke_token(token.access_token)
    assert tokens.introspect(token.access_token) == {"active": False}
