"""Agent IAM: register an agent (REST API, as its creator) and the token service (OAuth 2.0 on the
control plane's mutual-TLS listener, as the agent with its SVID; the control plane checked by its
SPIFFE ID, `spiffe://<td>/warden/control-plane` by default).

OAuth errors (`{"error": "invalid_scope", "error_description": ...}`) raise the typed family
sdk/reasons.json gives them (`invalid_scope` → PolicyDeniedError, `invalid_grant` → DelegationError...).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Sequence

import httpx2

from .errors import raise_for_warden
from .identity import SvidSource
from .retry import RetryPolicy, RetryTransport

TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
DELEGATION_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id-jag"


def register_agent(
    api_url: str,
    bearer_token: str,
    *,
    name: str,
    tenant: str,
    team: str,
    type: str,  # noqa: A002 - the API's field name
    environment: str,
    capabilities: Sequence[str],
) -> dict[str, Any]:
    """Registers an agent through the control plane's API as the person holding `bearer_token`."""
    body = {
        "name": name,
        "tenant": tenant,
        "team": team,
        "type": type,
        "environment": environment,
        "capabilities": list(capabilities),
    }
    with httpx2.Client(timeout=30.0) as http:
        response = http.post(
            f"{api_url.rstrip('/')}/v1/agents", json=body, headers={"authorization": f"Bearer {bearer_token}"}
        )
        raise_for_warden(response)
        return dict(response.json())


@dataclass(frozen=True)
class AccessToken:
    access_token: str
    token_type: str
    expires_in: int
    scopes: list[str]


class TokenService:
    """The token service, authenticated with the agent's SVID (RFC 8705 mutual-TLS client auth)."""

    def __init__(self, source: SvidSource, url: str, *, retry: RetryPolicy = RetryPolicy()) -> None:
        self.url = url.rstrip("/")
        self.source = source
        self._owns_source = False
        transport = RetryTransport(httpx2.HTTPTransport(verify=source.ssl_context), retry)
        self._http = httpx2.Client(transport=transport, timeout=30.0)

    @classmethod
    def connect(
        cls,
        url: str,
        *,
        spiffe_id: Optional[str] = None,
        control_plane_spiffe_id: Optional[str] = None,
        trust_domain: str = "warden.local",
        socket: Optional[str] = None,
    ) -> "TokenService":
        """Its own SVID source (`spiffe_id` picks the agent's SVID when the process holds several)."""
        expected = control_plane_spiffe_id or f"spiffe://{trust_domain}/warden/control-plane"
        source = SvidSource(expected, socket=socket, spiffe_id=spiffe_id)
        service = cls(source, url)
        service._owns_source = True
        return service

    def get_token(self, scopes: Optional[Sequence[str]] = None) -> AccessToken:
        """An access token for the agent itself, bound to its certificate; scopes may only narrow."""
        form = {"grant_type": "client_credentials"}
        if scopes:
            form["scope"] = " ".join(scopes)
        return self._token(form)

    def exchange_delegation(
        self, delegation: str, *, audience: Optional[str] = None, scopes: Optional[Sequence[str]] = None
    ) -> AccessToken:
        """A user's delegation exchanged for an access token acting for that user, bound to the agent's certificate."""
        form = {"grant_type": TOKEN_EXCHANGE_GRANT, "subject_token": delegation, "subject_token_type": DELEGATION_TOKEN_TYPE}
        if audience:
            form["audience"] = audience
        if scopes:
            form["scope"] = " ".join(scopes)
        return self._token(form)

    def revoke_token(self, token: str) -> None:
        """RFC 7009 revocation."""
        self._form("/oauth2/revoke", {"token": token})

    def introspect(self, token: str) -> dict[str, Any]:
        """RFC 7662 introspection."""
        return dict(self._form("/oauth2/introspect", {"token": token}).json())

    def _token(self, form: dict[str, str]) -> AccessToken:
        body = self._form("/oauth2/token", form).json()
        scope = body.get("scope")
        return AccessToken(
            access_token=str(body["access_token"]),
            token_type=str(body.get("token_type", "")),
            expires_in=int(body.get("expires_in", 0)),
            scopes=scope.split() if isinstance(scope, str) else [],
        )

    def _form(self, path: str, form: dict[str, str]) -> httpx2.Response:
        return raise_for_warden(self._http.post(f"{self.url}{path}", data=form))

    def close(self) -> None:
        self._http.close()
        if self._owns_source:
            self.source.close()

    def __enter__(self) -> "TokenService":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
