"""The readiness probe and the port-ownership check, against real sockets in this process:
one deadline per whole response, a halt that ends the wait at once, squatters named."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from harness.errors import Interrupted, SandboxError
from harness.halt import Halt
from harness.sandbox.ownership import check_port_free, check_port_owned, listeners_on
from harness.sandbox.ready import probe_http, wait_http_ready

HOST = "127.0.0.1"


class Trickler:
    """A server that sends a status line, then one header byte every ``every_s``, forever."""

    def __init__(self, every_s: float = 0.3, chunk: bytes = b"X") -> None:
        self.listener = socket.create_server((HOST, 0))
        self.port = int(self.listener.getsockname()[1])
        self.asked = threading.Event()
        self.every_s = every_s
        self.chunk = chunk
        self.closed = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self.closed.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        with conn:
            conn.recv(4096)
            self.asked.set()
            try:
                conn.sendall(b"HTTP/1.1 200 OK\r\n")
                while not self.closed.wait(self.every_s):
                    conn.sendall(self.chunk)
            except OSError:
                return

    def close(self) -> None:
        """Stop serving."""
        self.closed.set()
        self.listener.close()


@pytest.fixture
def trickler() -> Iterator[Trickler]:
    """A trickling server for one test."""
    server = Trickler()
    yield server
    server.close()


def test_trickled_headers_cannot_stretch_one_probe(trickler: Trickler) -> None:
    """A probe whose headers arrive one byte every 0.3 s ends at its own deadline."""
    start = time.monotonic_ns()
    answer = probe_http(
        HOST, trickler.port, "/readyz", until_ns=start + 500_000_000, clock=time.monotonic_ns
    )
    took_s = (time.monotonic_ns() - start) / 1e9
    assert answer.status is None and "probe deadline" in answer.detail
    assert took_s < 2.0, took_s


def test_header_flood_is_not_an_answer() -> None:
    """Headers past the size cap are refused rather than buffered without end."""
    server = Trickler(every_s=0.001, chunk=b"X" * 8192)
    try:
        answer = probe_http(
            HOST,
            server.port,
            "/readyz",
            until_ns=time.monotonic_ns() + 10_000_000_000,
            clock=time.monotonic_ns,
        )
    finally:
        server.close()
    assert answer.status is None and "longer than" in answer.detail


def test_halt_ends_the_readiness_wait(trickler: Trickler) -> None:
    """Setting the halt event while a probe is mid-response raises Interrupted with its
    signal, long before the readiness deadline."""
    halt = Halt()

    def press() -> None:
        trickler.asked.wait(30)
        halt.set(15)

    threading.Thread(target=press, daemon=True).start()
    start = time.monotonic_ns()
    with pytest.raises(Interrupted) as caught:
        wait_http_ready(
            HOST,
            trickler.port,
            "/readyz",
            deadline_ns=start + 120_000_000_000,
            interval_s=0.02,
            timeout_s=120,
            clock=time.monotonic_ns,
            exited=lambda: None,
            halt=halt,
        )
    assert caught.value.signum == 15
    assert (time.monotonic_ns() - start) / 1e9 < 30


def test_readiness_deadline_names_the_last_answer(trickler: Trickler) -> None:
    """A target that never completes an answer fails at the readiness deadline, saying why."""
    start = time.monotonic_ns()
    with pytest.raises(SandboxError, match=r"within 1s \(last: answer not complete"):
        wait_http_ready(
            HOST,
            trickler.port,
            "/readyz",
            deadline_ns=start + 1_000_000_000,
            interval_s=0.02,
            timeout_s=1,
            clock=time.monotonic_ns,
            exited=lambda: None,
        )
    assert (time.monotonic_ns() - start) / 1e9 < 5


class AnswersOnceThenHangs:
    """A server that answers its first request 404 at once, then never answers again."""

    def __init__(self) -> None:
        self.listener = socket.create_server((HOST, 0))
        self.port = int(self.listener.getsockname()[1])
        self.held: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        first = True
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            if first:
                with conn:
                    conn.recv(4096)
                    conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                first = False
            else:
                self.held.append(conn)

    def close(self) -> None:
        """Stop serving and drop the held connections."""
        self.listener.close()
        for conn in self.held:
            conn.close()


def test_a_probe_cut_by_the_deadline_does_not_hide_the_last_answer() -> None:
    """When the readiness deadline ends a probe mid-flight, the error names the last answer
    the target did give (here a 404), not the cut-off probe: the cut says nothing about it."""
    server = AnswersOnceThenHangs()
    start = time.monotonic_ns()
    try:
        with pytest.raises(SandboxError, match=r"within 0.5s \(last: HTTP 404\)"):
            wait_http_ready(
                HOST,
                server.port,
                "/readyz",
                deadline_ns=start + 500_000_000,
                interval_s=0.01,
                timeout_s=0.5,
                clock=time.monotonic_ns,
                exited=lambda: None,
            )
    finally:
        server.close()


def test_squatter_is_named_with_its_pid() -> None:
    """A listener held by a process outside the sandbox is named by pid, before start and
    after readiness; held by the sandbox, it is accepted."""
    with socket.create_server((HOST, 0)) as sock:
        port = int(sock.getsockname()[1])
        assert [x.port for x in listeners_on(HOST, port)] == [port]
        with pytest.raises(SandboxError, match=rf"pid {os.getpid()} "):
            check_port_free(HOST, port)
        with pytest.raises(SandboxError, match=rf"did not start: pid {os.getpid()} "):
            check_port_owned(HOST, port, lambda pid: False)
        assert check_port_owned(HOST, port, lambda pid: pid == os.getpid()) == [os.getpid()]
    check_port_free(HOST, port)


def test_wildcard_listener_counts_for_loopback() -> None:
    """A server on 0.0.0.0 takes loopback connections too, so it squats a loopback port."""
    with socket.create_server(("0.0.0.0", 0)) as sock:
        port = int(sock.getsockname()[1])
        with pytest.raises(SandboxError, match="taken before the target started"):
            check_port_free(HOST, port)
