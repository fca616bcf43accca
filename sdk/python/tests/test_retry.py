"""429/503 are retried with backoff honouring Retry-After; budget refusals and exhausted retries raise typed errors."""

from __future__ import annotations

import time

import anyio
import pytest

from agent_warden import BudgetError, RateLimitedError, RetryPolicy, UnavailableError, Warden, raise_for_warden

from .conftest import StaticSource
from .pki import Ca
from .tls_server import TlsServer


def test_429_with_retry_after_waits_that_long_then_succeeds(ca: Ca, server: TlsServer) -> None:
    warden = Warden(StaticSource(ca), server.url)  # type: ignore[arg-type]
    with warden.httpx() as http:
        started = time.monotonic()
        response = http.get("/refuse?status=429&reason=rate_limited&after=1&times=1")
        assert response.json() == {"ok": True, "attempts": 2}
        assert time.monotonic() - started >= 1.0


def test_503_retried_async_until_the_policy_gives_up_then_typed(ca: Ca, server: TlsServer) -> None:
    warden = Warden(StaticSource(ca), server.url, retry=RetryPolicy(max_retries=2, base_delay=0.01))  # type: ignore[arg-type]

    async def run() -> None:
        async with warden.async_httpx() as http:
            response = await http.get("/refuse?status=503&reason=unavailable&times=5")
            assert response.status_code == 503
            with pytest.raises(UnavailableError) as info:
                raise_for_warden(response)
            assert info.value.reason == "unavailable"
            assert info.value.decision_id == "dec-2"  # three attempts: the first and two retries

    anyio.run(run)


def test_budget_refusals_are_not_retried(ca: Ca, server: TlsServer) -> None:
    warden = Warden(StaticSource(ca), server.url)  # type: ignore[arg-type]
    with warden.httpx() as http:
        response = http.get("/refuse?status=402&reason=budget_exceeded&times=5")
        with pytest.raises(BudgetError):
            raise_for_warden(response)
        assert http.get("/refuse?status=429&reason=budget_exceeded&times=5").status_code == 429
        assert server.httpd.refusals["budget_exceeded"] == 2


def test_rate_limit_after_retries_raises_rate_limited_with_retry_after(ca: Ca, server: TlsServer) -> None:
    warden = Warden(StaticSource(ca), server.url, retry=RetryPolicy(max_retries=0))  # type: ignore[arg-type]
    with warden.httpx() as http:
        with pytest.raises(RateLimitedError) as info:
            raise_for_warden(http.get("/refuse?status=429&reason=rate_limited&after=7&times=5"))
        assert info.value.retry_after == 7.0


def test_delegation_header_rides_on_every_call_of_the_view(ca: Ca, server: TlsServer) -> None:
    warden = Warden(StaticSource(ca), server.url)  # type: ignore[arg-type]
    with warden.on_behalf_of("eyJ.alice.token").httpx() as http:
        http.get("/whoami")
    with warden.httpx() as http:
        http.get("/whoami")
    assert server.seen_headers[0].get("x-warden-delegation") == "eyJ.alice.token"
    assert "x-warden-delegation" not in {k.lower() for k in server.seen_headers[1]}
    with pytest.raises(ValueError):
        warden.on_behalf_of("a\r\nx: y")


def test_a_post_with_a_json_body_is_replayed_after_a_503(ca: Ca, server: TlsServer) -> None:
    warden = Warden(StaticSource(ca), server.url, retry=RetryPolicy(base_delay=0.01))  # type: ignore[arg-type]
    with warden.httpx() as http:
        response = http.post("/refuse?status=503&reason=unavailable&times=2", json={"model": "m"})
    assert response.json() == {"ok": True, "attempts": 3}
