"""Agent Warden SDK for Python: the agent's SVID, verified mTLS to its sidecar, typed refusals, ready clients."""

from .client import DELEGATION_HEADER, Warden
from .errors import (
    AgentStatusError,
    ApprovalRequiredError,
    BudgetError,
    DelegationError,
    IdentityError,
    KyaError,
    PolicyDeniedError,
    RateLimitedError,
    RequestError,
    UnavailableError,
    WardenError,
    araise_for_warden,
    error_from_response,
    from_exception,
    raise_for_warden,
)
from .iam import AccessToken, TokenService, register_agent
from .mcp_client import call_skill, get_data, write_data
from .retry import RetryPolicy
from .tls import SpiffeIdMismatch
from .transport import AsyncSvidTransport, SvidTransport

__all__ = [
    "AccessToken",
    "TokenService",
    "register_agent",
    "DELEGATION_HEADER",
    "AgentStatusError",
    "ApprovalRequiredError",
    "BudgetError",
    "DelegationError",
    "IdentityError",
    "KyaError",
    "PolicyDeniedError",
    "RateLimitedError",
    "RequestError",
    "RetryPolicy",
    "SpiffeIdMismatch",
    "SvidTransport",
    "AsyncSvidTransport",
    "UnavailableError",
    "Warden",
    "WardenError",
    "araise_for_warden",
    "call_skill",
    "error_from_response",
    "from_exception",
    "get_data",
    "raise_for_warden",
    "write_data",
]
