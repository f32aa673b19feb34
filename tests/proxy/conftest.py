"""Fixtures for the proxy tests: real upstreams on loopback and a proxy child in front."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from harness.proxy import FaultProxy
from tests.proxy.upstream import Upstream

RULE_CAP = 1000
"""The proxies here hold at most this many bytes of an answer to rewrite it."""


@pytest.fixture
def drill_upstream() -> Iterator[Upstream]:
    """A well-behaved upstream, closed after the test."""
    upstream = Upstream()
    yield upstream
    upstream.sse_release.set()
    upstream.close()


@pytest.fixture
def drill_proxy_for(tmp_path: Path) -> Iterator[Callable[[str], FaultProxy]]:
    """Start proxies in front of given upstreams; every one is closed after the test."""
    started: list[FaultProxy] = []

    def start(upstream: str) -> FaultProxy:
        proxy = FaultProxy.start(
            upstream=upstream,
            events_path=tmp_path / f"proxy-{len(started)}.jsonl",
            name=f"p{len(started)}",
            run_id="proxytest",
            max_body=RULE_CAP,
        )
        started.append(proxy)
        return proxy

    yield start
    for proxy in started:
        proxy.close()


@pytest.fixture
def drill_proxy(
    drill_upstream: Upstream, drill_proxy_for: Callable[[str], FaultProxy]
) -> FaultProxy:
    """A proxy in front of the well-behaved upstream."""
    return drill_proxy_for(drill_upstream.url)
