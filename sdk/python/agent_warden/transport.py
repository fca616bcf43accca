"""httpx2 transports that keep one connection pool per SVID: a rotation moves new requests to a new pool.

Warden's sidecar checks the client certificate's validity on every request, from the certificate of
the connection the request arrived on; a keep-alive connection opened with an SVID keeps that SVID
after it has expired. So swapping the TLS context (which only affects new connections) is not enough:
a pooled connection would go on presenting the old certificate and every call on it would fail with
401 certificate_expired once that certificate's validity ends.

`SvidTransport` / `AsyncSvidTransport` hold one inner httpx2 transport (pool) built with the current
SVID's TLS context. Before each request they compare it with the RotatingSSLContext's current one;
when the SVID has rotated, a fresh pool built with the new context becomes current (swapped under a
lock, so every request goes to exactly one pool) and the old pool is retired: it takes no new
requests and is closed once the requests it is still serving have finished, including a streaming
response, which ends when its body is closed. No in-flight request is ever cut.
"""

from __future__ import annotations

import threading
from typing import Any, AsyncIterator, Callable, Generic, Iterator, Optional, TypeVar

import httpx2

from .tls import RotatingSSLContext, SpiffeClientContext

T = TypeVar("T")


class _Pool(Generic[T]):
    """One inner transport, the SVID context it was built with, and its in-flight count."""

    def __init__(self, transport: T, context: SpiffeClientContext) -> None:
        self.transport = transport
        self.context = context
        self.in_flight = 0
        self.retired = False
        self.closed = False


class _Pools(Generic[T]):
    """The current pool and the retired ones still serving requests; thread-safe bookkeeping only."""

    def __init__(self, ssl_context: RotatingSSLContext, factory: Callable[[SpiffeClientContext], T]) -> None:
        self._ssl = ssl_context
        self._factory = factory
        self._lock = threading.Lock()
        context = ssl_context.current
        self.current: _Pool[T] = _Pool(factory(context), context)
        self.retired: list[_Pool[T]] = []
        self.is_closed = False

    def acquire(self) -> tuple[_Pool[T], list[_Pool[T]]]:
        """The pool for a new request (counted in flight), and retired pools now idle, to close."""
        context = self._ssl.current
        with self._lock:
            if self.is_closed:
                raise RuntimeError("the transport is closed")
            to_close: list[_Pool[T]] = []
            if context is not self.current.context:
                old = self.current
                self.current = _Pool(self._factory(context), context)
                old.retired = True
                if old.in_flight == 0:
                    old.closed = True
                    to_close.append(old)
                else:
                    self.retired.append(old)
            pool = self.current
            pool.in_flight += 1
            return pool, to_close

    def release(self, pool: _Pool[T]) -> bool:
        """Ends one request on `pool`; True when the pool is retired, idle, and must now be closed."""
        with self._lock:
            pool.in_flight -= 1
            if pool.retired and pool.in_flight == 0 and not pool.closed:
                pool.closed = True
                if pool in self.retired:
                    self.retired.remove(pool)
                return True
            return False

    def close_all(self) -> list[_Pool[T]]:
        with self._lock:
            self.is_closed = True
            pools = [p for p in [self.current, *self.retired] if not p.closed]
            for p in pools:
                p.closed = True
            self.retired = []
            return pools


class _ReleasingStream(httpx2.SyncByteStream):
    def __init__(self, inner: httpx2.SyncByteStream, done: Callable[[], None]) -> None:
        self._inner = inner
        self._done: Optional[Callable[[], None]] = done

    def __iter__(self) -> Iterator[bytes]:
        yield from self._inner

    def close(self) -> None:
        try:
            self._inner.close()
        finally:
            done, self._done = self._done, None
            if done is not None:
                done()


class _AsyncReleasingStream(httpx2.AsyncByteStream):
    def __init__(self, inner: httpx2.AsyncByteStream, done: Callable[[], Any]) -> None:
        self._inner = inner
        self._done: Optional[Callable[[], Any]] = done

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            done, self._done = self._done, None
            if done is not None:
                await done()


class SvidTransport(httpx2.BaseTransport):
    """A sync httpx2 transport with a connection pool per SVID (see the module docstring)."""

    def __init__(self, ssl_context: RotatingSSLContext, **transport_kwargs: Any) -> None:
        self._pools: _Pools[httpx2.HTTPTransport] = _Pools(
            ssl_context, lambda ctx: httpx2.HTTPTransport(verify=ctx, **transport_kwargs)
        )

    @property
    def pool_count(self) -> int:
        """Pools still open: the current one plus retired ones still serving requests."""
        return 1 + len(self._pools.retired)

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        pool, to_close = self._pools.acquire()
        for idle in to_close:
            idle.transport.close()

        def done() -> None:
            if self._pools.release(pool):
                pool.transport.close()

        try:
            response = pool.transport.handle_request(request)
        except BaseException:
            done()
            raise
        assert isinstance(response.stream, httpx2.SyncByteStream)
        return httpx2.Response(
            response.status_code,
            headers=response.headers,
            stream=_ReleasingStream(response.stream, done),
            extensions=response.extensions,
        )

    def close(self) -> None:
        for pool in self._pools.close_all():
            pool.transport.close()


class AsyncSvidTransport(httpx2.AsyncBaseTransport):
    """The async twin of SvidTransport."""

    def __init__(self, ssl_context: RotatingSSLContext, **transport_kwargs: Any) -> None:
        self._pools: _Pools[httpx2.AsyncHTTPTransport] = _Pools(
            ssl_context, lambda ctx: httpx2.AsyncHTTPTransport(verify=ctx, **transport_kwargs)
        )

    @property
    def pool_count(self) -> int:
        return 1 + len(self._pools.retired)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        pool, to_close = self._pools.acquire()
        for idle in to_close:
            await idle.transport.aclose()

        async def done() -> None:
            if self._pools.release(pool):
                await pool.transport.aclose()

        try:
            response = await pool.transport.handle_async_request(request)
        except BaseException:
            await done()
            raise
        assert isinstance(response.stream, httpx2.AsyncByteStream)
        return httpx2.Response(
            response.status_code,
            headers=response.headers,
            stream=_AsyncReleasingStream(response.stream, done),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        for pool in self._pools.close_all():
            await pool.transport.aclose()
