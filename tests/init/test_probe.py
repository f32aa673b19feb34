"""`govdrill init`'s probes are bounded against a hostile service: a body is cut at the
cap, a dripping answer at the timeout, and garbage is no answer rather than a crash."""

from __future__ import annotations

import time

from harness.init.probe import Prober
from harness.init.recognise import ServiceKind, detect_kind
from tests.helpers import serving
from tests.init.services import hostile_handler


def test_an_endless_body_is_cut_at_the_cap() -> None:
    """A body far larger than the cap is read only up to it and marked truncated (not JSON)."""
    with serving(hostile_handler("huge")) as port:
        answer = Prober(f"http://127.0.0.1:{port}", max_bytes=4096).get("/v1/models")
    assert answer.status == 200 and answer.truncated and len(answer.body) == 4096
    assert answer.json() is None


def test_a_dripping_answer_ends_at_the_timeout() -> None:
    """A service sending one byte at a time never resets a socket timeout; the whole exchange
    is still cut at the probe's timeout."""
    with serving(hostile_handler("drip")) as port:
        started = time.monotonic_ns()
        answer = Prober(f"http://127.0.0.1:{port}", timeout_s=0.5).get("/")
        took_s = (time.monotonic_ns() - started) / 1e9
    assert answer.status == 0 and answer.failure == "timed out"
    assert took_s < 5, took_s


def test_garbage_is_no_answer() -> None:
    """Bytes that are not HTTP give status 0 and a reason, not an exception."""
    with serving(hostile_handler("garbage")) as port:
        answer = Prober(f"http://127.0.0.1:{port}").get("/")
    assert answer.status == 0 and "not an HTTP answer" in answer.failure


def test_a_huge_answer_everywhere_is_plain_http() -> None:
    """A service answering 200 with an endless body to everything is not taken for V2 or
    OpenAI (its answers are not complete JSON): it is plain HTTP, where the user decides."""
    with serving(hostile_handler("huge")) as port:
        kind, _ = detect_kind(Prober(f"http://127.0.0.1:{port}", max_bytes=4096))
    assert kind is ServiceKind.PLAIN
