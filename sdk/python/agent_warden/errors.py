"""Typed errors for Warden's refusals: one class per reason family, driven by sdk/reasons.json.

A refusal arrives as Warden's `{"error": {"code", "message", "decision_id"}}`, in an LLM provider's
own error shape (the reason in `error.code`), or as a JSON-RPC error on MCP routes (`error.data.reason`,
`error.data.decision_id`). `error_from_response` reads all three; the reason picks the class through
the reason table both SDKs share, and the HTTP status decides when the reason is unknown.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping, Optional

# JSON-RPC codes Warden answers with on MCP routes (lib/src/mcp/protocol.ts).
JSONRPC_WARDEN_DENIED = -32050
JSONRPC_APPROVAL_REQUIRED = -32051
JSONRPC_HEADER_MISMATCH = -32020


class WardenError(Exception):
    """A call Warden refused (or could not complete). `reason` is Warden's reason code."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        reason: str,
        decision_id: Optional[str] = None,
        retry_after: Optional[float] = None,
        details: Optional[Mapping[str, Any]] = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.reason = reason
        self.decision_id = decision_id
        self.retry_after = retry_after
        self.details: Mapping[str, Any] = dict(details or {})

    def __str__(self) -> str:
        decision = f", decision {self.decision_id}" if self.decision_id else ""
        return f"{self.reason} ({self.status}{decision}): {self.message}"


class IdentityError(WardenError):
    """The caller's identity was not accepted (401): no or unknown SVID, foreign trust domain."""


class AgentStatusError(WardenError):
    """The agent is registered but may not call: suspended, revoked, inactive."""


class KyaError(WardenError):
    """The agent's Know-Your-Agent attestation is missing, pending, expired or too weak."""


class DelegationError(WardenError):
    """The user's delegation token is missing, invalid, expired or does not cover the call."""


class PolicyDeniedError(WardenError):
    """Policy refused the call: destination, capability, tier, model or MCP tool rules."""


class ApprovalRequiredError(WardenError):
    """A human must approve this exact call first; retry it after approval."""

    @property
    def approval_id(self) -> Optional[str]:
        return _str_or_none(self.details.get("approval_id"))

    @property
    def approval_url(self) -> Optional[str]:
        return _str_or_none(self.details.get("approval_url"))

    @property
    def expires_at(self) -> Optional[str]:
        return _str_or_none(self.details.get("expires_at"))


class BudgetError(WardenError):
    """A spending budget is exhausted (402, or 429 with a budget reason)."""


class RateLimitedError(WardenError):
    """Too many requests (429); `retry_after` says when to come back."""


class UnavailableError(WardenError):
    """Warden or the upstream is unavailable (502/503/504); retrying later may succeed."""


class RequestError(WardenError):
    """The request itself was refused as malformed or too large (400/413)."""


FAMILIES: dict[str, type[WardenError]] = {
    cls.__name__: cls
    for cls in (
        WardenError,
        IdentityError,
        AgentStatusError,
        KyaError,
        DelegationError,
        PolicyDeniedError,
        ApprovalRequiredError,
        BudgetError,
        RateLimitedError,
        UnavailableError,
        RequestError,
    )
}


def _str_or_none(value: object) -> Optional[str]:
    return value if isinstance(value, str) else None


def _reasons_path() -> Optional[Path]:
    """The shared table: packaged next to this module, else the repository's sdk/reasons.json."""
    override = os.environ.get("WARDEN_REASONS_FILE")
    candidates = [Path(override)] if override else []
    here = Path(__file__).resolve().parent
    candidates += [here / "reasons.json", here.parent.parent / "reasons.json"]
    return next((p for p in candidates if p.is_file()), None)


def _family_of_entry(entry: object) -> Optional[str]:
    if isinstance(entry, str):
        return entry
    if isinstance(entry, Mapping):
        family = entry.get("family") or entry.get("class")
        return family if isinstance(family, str) else None
    return None


def parse_reason_table(data: object) -> dict[str, str]:
    """reason → family class name, from the shared table's JSON.

    Accepted shapes: {"reasons": {reason: family | {"family": ...}}}, {"families": {family: [reasons]}}
    (either may sit at the top level). An unknown family name is an error: the table and the classes
    must agree.
    """
    if not isinstance(data, Mapping):
        raise ValueError("reasons.json: expected a JSON object")
    table: dict[str, str] = {}
    reasons = data.get("reasons")
    families = data.get("families")
    if isinstance(reasons, Mapping):
        for reason, entry in reasons.items():
            family = _family_of_entry(entry)
            if family:
                table[str(reason)] = family
    elif isinstance(reasons, list):
        for entry in reasons:
            if isinstance(entry, Mapping) and isinstance(entry.get("reason") or entry.get("code"), str):
                family = _family_of_entry(entry)
                if family:
                    table[str(entry.get("reason") or entry.get("code"))] = family
    if isinstance(families, Mapping):
        for family, members in families.items():
            if isinstance(members, list):
                for reason in members:
                    table[str(reason)] = str(family)
            elif isinstance(members, Mapping) and isinstance(members.get("reasons"), list):
                for reason in members["reasons"]:
                    table[str(reason)] = str(family)
    for reason, family in table.items():
        if family not in FAMILIES:
            raise ValueError(f"reasons.json: reason {reason!r} names unknown family {family!r}")
    return table


@dataclass(frozen=True)
class ReasonTable:
    """The shared table: reason → family, and the family of a status / JSON-RPC code it does not list."""

    reasons: Mapping[str, str]
    status_fallback: Mapping[int, str]
    jsonrpc_codes: Mapping[int, str]


def _int_keyed(data: object, what: str) -> dict[int, str]:
    out: dict[int, str] = {}
    if isinstance(data, Mapping):
        for key, family in data.items():
            if family not in FAMILIES:
                raise ValueError(f"reasons.json: {what} {key} names unknown family {family!r}")
            out[int(key)] = str(family)
    return out


def load_reason_table(data: object) -> ReasonTable:
    table = parse_reason_table(data)
    assert isinstance(data, Mapping)
    return ReasonTable(
        table,
        _int_keyed(data.get("status_fallback"), "status"),
        _int_keyed(data.get("jsonrpc_codes"), "JSON-RPC code"),
    )


@lru_cache(maxsize=1)
def reason_table() -> ReasonTable:
    path = _reasons_path()
    if path is None:
        return ReasonTable({}, {}, {})
    return load_reason_table(json.loads(path.read_text("utf-8")))


# When a reason is not in the table (a newer sidecar), its prefix decides; then the status.
_PREFIXES: tuple[tuple[str, str], ...] = (
    ("identity_", "IdentityError"),
    ("trust_domain_", "IdentityError"),
    ("agent_unregistered", "IdentityError"),
    ("agent_identity_mismatch", "IdentityError"),
    ("agent_", "AgentStatusError"),
    ("kya_", "KyaError"),
    ("delegation_", "DelegationError"),
    ("approval_required", "ApprovalRequiredError"),
    ("budget_", "BudgetError"),
    ("rate_limit", "RateLimitedError"),
    ("destination_", "PolicyDeniedError"),
    ("capability_", "PolicyDeniedError"),
    ("model_", "PolicyDeniedError"),
    ("mcp_", "PolicyDeniedError"),
)

_STATUS_DEFAULTS: Mapping[int, str] = {
    400: "RequestError",
    401: "IdentityError",
    402: "BudgetError",
    403: "PolicyDeniedError",
    413: "RequestError",
    429: "RateLimitedError",
    502: "UnavailableError",
    503: "UnavailableError",
    504: "UnavailableError",
}


def error_class(reason: str, status: int, jsonrpc_code: Optional[int] = None) -> type[WardenError]:
    """The class a refusal with this reason, status (and JSON-RPC code) raises."""
    table = reason_table()
    family = table.reasons.get(reason)
    if family is None and jsonrpc_code is not None:
        family = table.jsonrpc_codes.get(jsonrpc_code)
    if family is None:
        family = next((f for prefix, f in _PREFIXES if reason.startswith(prefix)), None)
    if family is None:
        family = table.status_fallback.get(status) or _STATUS_DEFAULTS.get(status)
    if family is None:
        family = "RequestError" if 400 <= status < 500 else "WardenError"
    return FAMILIES[family]


def parse_retry_after(value: Optional[str]) -> Optional[float]:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date); None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime
    from datetime import datetime, timezone

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def error_from_body(
    status: int,
    body: object,
    headers: Optional[Mapping[str, str]] = None,
) -> WardenError:
    """The typed error of a refusal: HTTP status, parsed JSON body (any of the shapes), headers."""
    headers = {k.lower(): v for k, v in (headers or {}).items()}
    decision_id = headers.get("x-warden-decision-id")
    reason = ""
    message = ""
    details: dict[str, Any] = {}
    jsonrpc_code: Optional[int] = None
    if isinstance(body, Mapping):
        error = body.get("error")
        if isinstance(error, str):  # OAuth 2.0 (RFC 6749 §5.2): {"error": code, "error_description"}
            reason = error
            message = _str_or_none(body.get("error_description")) or ""
            decision_id = _str_or_none(body.get("decision_id")) or decision_id
        elif isinstance(error, Mapping):
            data = error.get("data")
            if isinstance(data, Mapping):  # JSON-RPC
                rpc_code = error.get("code")
                jsonrpc_code = rpc_code if isinstance(rpc_code, int) else None
                details = {k: v for k, v in data.items() if k not in ("reason", "decision_id")}
                reason = _str_or_none(data.get("reason")) or ""
                decision_id = _str_or_none(data.get("decision_id")) or decision_id
                if error.get("code") == JSONRPC_APPROVAL_REQUIRED and not reason:
                    reason = "approval_required"
            else:
                code = error.get("code")
                reason = code if isinstance(code, str) else ""
                if not reason:  # Google's shape: the reason in an ErrorInfo detail
                    for detail in error.get("details") or []:
                        if isinstance(detail, Mapping) and isinstance(detail.get("reason"), str):
                            reason = detail["reason"]
                            meta = detail.get("metadata")
                            if isinstance(meta, Mapping):
                                decision_id = _str_or_none(meta.get("decision_id")) or decision_id
                decision_id = _str_or_none(error.get("decision_id")) or decision_id
            message = _str_or_none(error.get("message")) or ""
    if not reason:
        reason = f"http_{status}"
    cls = error_class(reason, status, jsonrpc_code)
    return cls(
        message or reason,
        status=status,
        reason=reason,
        decision_id=decision_id,
        retry_after=parse_retry_after(headers.get("retry-after")),
        details=details,
    )


def error_from_response(response: Any) -> WardenError:
    """The typed error of an httpx2 response (read already)."""
    try:
        body = json.loads(response.content or b"null")
    except (ValueError, UnicodeDecodeError):
        body = None
    return error_from_body(response.status_code, body, dict(response.headers))


def raise_for_warden(response: Any) -> Any:
    """Raises the typed error when `response` is a refusal (status >= 400); returns it otherwise."""
    if response.status_code >= 400:
        response.read()
        raise error_from_response(response)
    return response


async def araise_for_warden(response: Any) -> Any:
    """`raise_for_warden` for an httpx2.AsyncClient's response."""
    if response.status_code >= 400:
        await response.aread()
        raise error_from_response(response)
    return response


def from_exception(exc: BaseException) -> Optional[WardenError]:
    """The typed error behind an official SDK's exception (openai/anthropic APIStatusError, mcp McpError)."""
    if isinstance(exc, WardenError):
        return exc
    response = getattr(exc, "response", None)
    if response is not None and hasattr(response, "status_code"):
        return error_from_response(response)
    error = getattr(exc, "error", None)  # mcp's McpError carries the JSON-RPC ErrorData
    if error is not None and hasattr(error, "code"):
        data = getattr(error, "data", None)
        body = {"error": {"code": error.code, "message": getattr(error, "message", ""), "data": data}}
        status = 200
        if isinstance(data, Mapping):
            reason = data.get("reason")
            if error.code == JSONRPC_HEADER_MISMATCH or reason == "mcp_header_mismatch":
                status = 400
            elif error.code in (JSONRPC_WARDEN_DENIED,):
                status = 403
            elif error.code == JSONRPC_APPROVAL_REQUIRED:
                status = 403
        return error_from_body(status, body)
    return None
