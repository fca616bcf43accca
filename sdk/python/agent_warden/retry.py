"""Retries of refused-for-now calls (429 rate limits, 503 unavailable) with backoff honouring Retry-After.

A transport wrapper, so every client built on it (plain httpx2, openai, anthropic, mcp) retries the
same way. Budget refusals (a 429 whose reason is a budget reason) are final and never retried, and a
request whose body cannot be replayed (a generator) is not retried either.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Optional

import anyio
import httpx2

from .errors import BudgetError, error_from_response

RETRY_STATUSES = frozenset({429, 503})


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 3
    base_delay: float = 0.2
    max_delay: float = 10.0

    def delay(self, attempt: int, retry_after: Optional[float]) -> float:
        if retry_after is not None:
            return min(retry_after, self.max_delay)
        backoff = self.base_delay * (2**attempt)
        return min(backoff * (0.5 + random.random() / 2), self.max_delay)


def _replayable(request: httpx2.Request) -> bool:
    return isinstance(request.stream, (httpx2.ByteStream,)) or request.method in ("GET", "HEAD", "OPTIONS", "DELETE")


def _retry_delay(response: httpx2.Response, policy: RetryPolicy, attempt: int) -> Optional[float]:
    """Seconds to wait before the next attempt, or None when this answer is final."""
    if response.status_code not in RETRY_STATUSES or attempt >= policy.max_retries:
        return None
    error = error_from_response(response)
    if isinstance(error, BudgetError):
        return None
    return policy.delay(attempt, error.retry_after)


class RetryTransport(httpx2.BaseTransport):
    def __init__(self, inner: httpx2.BaseTransport, policy: RetryPolicy) -> None:
        self._inner = inner
        self._policy = policy

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        attempt = 0
        while True:
            response = self._inner.handle_request(request)
            if response.status_code not in RETRY_STATUSES or not _replayable(request):
                return response
            response.read()
            delay = _retry_delay(response, self._policy, attempt)
            if delay is None:
                return response
            response.close()
            time.sleep(delay)
            attempt += 1

    def close(self) -> None:
        self._inner.close()


class AsyncRetryTransport(httpx2.AsyncBaseTransport):
    def __init__(self, inner: httpx2.AsyncBaseTransport, policy: RetryPolicy) -> None:
        self._inner = inner
        self._policy = policy

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        attempt = 0
        while True:
            response = await self._inner.handle_async_request(request)
            if response.status_code not in RETRY_STATUSES or not _replayable(request):
                return response
            await response.aread()
            delay = _retry_delay(response, self._policy, attempt)
            if delay is None:
                return response
            await response.aclose()
            await anyio.sleep(delay)
            attempt += 1

    async def aclose(self) -> None:
        await self._inner.aclose()
