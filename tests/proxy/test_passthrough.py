"""The target's own stops pass through unchanged: 503s, refusals, resets; streams unbuffered."""

from __future__ import annotations

import http.client
from collections.abc import Callable

import pytest

from harness.proxy import FaultProxy
from tests.helpers import wait_for
from tests.proxy.client import Outcome, fetch, raw_exchange
from tests.proxy.upstream import HostileUpstream, Upstream


def test_the_targets_503_passes_through(drill_proxy: FaultProxy) -> None:
    """A 503 from the target reaches the client as it was sent."""
    got = fetch(drill_proxy.base_url, "/stopped")
    assert (got.status, got.body) == (503, b'{"status": "stopped"}')


def test_the_targets_reset_passes_through_as_a_reset(drill_proxy: FaultProxy) -> None:
    """The target resets: the client sees a reset, not a proxy-made answer."""
    assert fetch(drill_proxy.base_url, "/reset").outcome is Outcome.RESET


def test_the_targets_close_passes_through_as_a_close(drill_proxy: FaultProxy) -> None:
    """The target closes without answering: the client sees the connection closed, no 502."""
    assert fetch(drill_proxy.base_url, "/close").outcome in (Outcome.CLOSED, Outcome.RESET)


def test_a_refusing_target_is_refused_through_the_proxy(
    drill_upstream: Upstream, drill_proxy: FaultProxy
) -> None:
    """The target stops listening: a reset, then refusals; it listens again: answers again."""
    assert fetch(drill_proxy.base_url, "/json").status == 200
    port = drill_upstream.server_address[1]
    drill_upstream.close()
    first = fetch(drill_proxy.base_url, "/json")
    assert first.outcome in (Outcome.RESET, Outcome.REFUSED)
    assert fetch(drill_proxy.base_url, "/json").outcome is Outcome.REFUSED
    back = _upstream_on(port)
    try:
        assert wait_for(lambda: fetch(drill_proxy.base_url, "/json").status == 200, 10)
    finally:
        back.close()


def _upstream_on(port: int) -> Upstream:
    """A fresh upstream on a given port (the one a test's target came back on)."""
    import threading
    from http.server import ThreadingHTTPServer

    from tests.proxy.upstream import _Handler

    server = Upstream.__new__(Upstream)
    ThreadingHTTPServer.__init__(server, ("127.0.0.1", port), _Handler)
    server.sse_release = threading.Event()
    server.requests = 0
    server._thread = threading.Thread(target=server.serve_forever, daemon=True)
    server._thread.start()
    return server


def test_an_sse_stream_passes_through_unbuffered(
    drill_upstream: Upstream, drill_proxy: FaultProxy
) -> None:
    """The client holds the first event before the upstream sends the last."""
    conn = http.client.HTTPConnection("127.0.0.1", drill_proxy.port, timeout=10)
    try:
        conn.request("GET", "/sse")
        resp = conn.getresponse()
        assert resp.status == 200
        first = resp.read1(100)  # returns with the first chunk; the last is not sent yet
        assert b"data: first" in first
        assert not drill_upstream.sse_release.is_set()
        drill_upstream.sse_release.set()
        rest = resp.read()
        assert b"data: last" in rest
    finally:
        conn.close()


@pytest.mark.parametrize(
    "payload",
    [
        b"\x00\xff garbage that is not HTTP\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nX-Huge: " + b"a" * 200_000 + b"\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Le",
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    ],
    ids=["garbage", "huge-header", "cut-head", "short-body", "bad-chunk"],
)
def test_a_hostile_upstream_never_crashes_the_proxy(
    payload: bytes, drill_proxy_for: Callable[[str], FaultProxy], drill_upstream: Upstream
) -> None:
    """Whatever the upstream sends, the client gets those bytes (or a close) and the proxy
    keeps serving."""
    hostile = HostileUpstream(payload)
    try:
        proxy = drill_proxy_for(hostile.url)
        got, _ = raw_exchange(proxy.base_url, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert payload.startswith(got) or got.startswith(payload[:16])
        got_again, _ = raw_exchange(proxy.base_url, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert got_again[:16] == got[:16]
        assert proxy.counts() == {}
    finally:
        hostile.close()
