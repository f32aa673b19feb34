"""The proxy child: an HTTP/1.1 relay on loopback in front of one upstream, with fault rules.

Run only as ``python -m harness.proxy.child``; the harness side is :mod:`harness.proxy.process`.

Relay
-----
Each client connection gets its own upstream connection (opened at its first forwarded
request), so keep-alive, closes and resets map one to one. Requests and answers are relayed
as read: the head whole, the body by its framing (Content-Length, chunked, until close), a
piece at a time and flushed as it comes, so SSE and other streams pass unbuffered. Only an
answer a ``rewrite`` rule touches is held whole, and only when its Content-Length is at most
``max_body``; a larger, chunked or compressed one passes unchanged and counts ``unmatched``.

What the client sees when the upstream ...

=======================  ==================================================================
upstream                 client
=======================  ==================================================================
answers (any status)     that answer, byte for byte (503s included)
resets the connection    a reset (the proxy closes with SO_LINGER 0)
closes without answer    the connection closed (no proxy-made 502, ever)
refuses the connect      a reset on this connection, then *refused* connects: the proxy
                         stops listening until a probe (every 50 ms) finds the upstream
                         accepting again, so a stopped service looks stopped
sends an unreadable head raw bytes: what was read and everything after, both ways
=======================  ==================================================================

Protocol
--------
stdin
    The first line: the config as JSON (``upstream``, ``name``, ``events_path``,
    ``parent_pid``, ``max_body``, ``port``). Then one JSON command a line:
    ``{"seq": N, "op": "enable", "name": ..., "rule": {...}}``, ``{"seq": N, "op":
    "disable", "name": ...}``, ``{"seq": N, "op": "counts"}``. EOF means stop.
stdout
    ``{"ready": PORT, "t_ns": T}`` once listening; then ``{"seq": N, "t_ns": T, ...}``
    answering each command (``"error"`` when it failed), and ``{"event": "rule_off", ...}``
    when a rule's ``for`` ran out.
events log (JSONL, appended, one write a line)
    ``{"t_ns", "event": "rule_on"|"rule_off"|"rule_count", "rule", ...}`` with the counts
    (``touched``, ``seen``, ``unmatched``) on ``rule_off`` and ``rule_count``.

Every ``t_ns`` is ``time.monotonic_ns()`` here: the host's monotonic clock, the harness's too.

Exit codes: 0 after EOF on stdin or SIGTERM, 2 a bad config, 3 the parent is already gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import http
import json
import os
import signal
import socket
import struct
import sys
import time
from dataclasses import dataclass
from typing import Any, Final, NoReturn
from urllib.parse import urlsplit

from harness.proxy.http1 import (
    Framing,
    HeadError,
    RequestHead,
    ResponseHead,
    parse_request,
    parse_response,
    with_content_length,
)
from harness.proxy.rules import ActiveRules, Plan, RewriteFailed, apply_rewrite
from harness.spec.proxy import FaultKind, ProxyRule

__all__ = ["main"]

_PR_SET_PDEATHSIG: Final = 1
HEAD_LIMIT: Final = 64 * 1024
"""The longest head (or chunk-size line) read as HTTP; beyond it, bytes are relayed raw."""
_PIECE: Final = 64 * 1024
_PROBE_EVERY_S: Final = 0.05
_LINGER_ZERO: Final = struct.pack("ii", 1, 0)
EXIT_OK: Final = 0
EXIT_BAD_CONFIG: Final = 2
EXIT_ORPHANED: Final = 3


@dataclass(frozen=True, slots=True)
class ChildConfig:
    """What the child needs to start: whom it fronts and where it writes."""

    host: str
    port: int
    listen_port: int
    name: str
    events_path: str
    parent_pid: int
    max_body: int


class _PeerGone(Exception):
    """The upstream reset (``reset``) or closed the connection mid-answer."""

    def __init__(self, reset: bool, partial: bytes = b"") -> None:
        super().__init__("reset" if reset else "closed")
        self.reset = reset
        self.partial = partial


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP RST rather than a FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_ZERO)
    writer.transport.abort()


async def _up_read(reader: asyncio.StreamReader, n: int) -> bytes:
    try:
        return await reader.read(n)
    except OSError:
        raise _PeerGone(reset=True) from None


async def _up_until(reader: asyncio.StreamReader, sep: bytes) -> bytes:
    """Read through ``sep`` from the upstream; HeadError when a line is overlong."""
    try:
        return await reader.readuntil(sep)
    except asyncio.IncompleteReadError as e:
        raise _PeerGone(reset=False, partial=e.partial) from None
    except asyncio.LimitOverrunError:
        raise HeadError("overlong line") from None
    except OSError:
        raise _PeerGone(reset=True) from None


async def _copy_length(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter | None, n: int
) -> None:
    while n > 0:
        piece = await _up_read(reader, min(n, _PIECE))
        if not piece:
            raise _PeerGone(reset=False)
        if writer is not None:
            writer.write(piece)
            await writer.drain()
        n -= len(piece)


async def _copy_chunked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter | None) -> None:
    while True:
        line = await _up_until(reader, b"\r\n")
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise HeadError(f"bad chunk size line {line[:40]!r}") from None
        if writer is not None:
            writer.write(line)
        if size == 0:
            while True:  # trailers, up to the blank line
                trailer = await _up_until(reader, b"\r\n")
                if writer is not None:
                    writer.write(trailer)
                if trailer == b"\r\n":
                    break
            if writer is not None:
                await writer.drain()
            return
        await _copy_length(reader, writer, size + 2)


async def _copy_until_eof(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while piece := await _up_read(reader, _PIECE):
        writer.write(piece)
        await writer.drain()


async def _copy_body(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter | None, framing: Framing, n: int
) -> None:
    if framing is Framing.LENGTH:
        await _copy_length(reader, writer, n)
    elif framing is Framing.CHUNKED:
        await _copy_chunked(reader, writer)
    elif framing is Framing.CLOSE and writer is not None:
        await _copy_until_eof(reader, writer)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy raw bytes until either side ends; then half-close the other."""
    with contextlib.suppress(OSError, _PeerGone):
        await _copy_until_eof(reader, writer)
    with contextlib.suppress(OSError):
        if writer.can_write_eof():
            writer.write_eof()


def _answer(status: int, body: bytes, content_type: bytes) -> bytes:
    try:
        reason = http.HTTPStatus(status).phrase.encode()
    except ValueError:
        reason = b"Status"
    return (
        b"HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n"
        % (status, reason, content_type, len(body))
    ) + body


def _fault_answer(kind: FaultKind, rule: ProxyRule) -> bytes:
    if kind is FaultKind.ERROR:
        assert rule.error is not None
        return _answer(rule.error.status, rule.error.body.encode(), b"text/plain; charset=utf-8")
    assert rule.lie is not None
    body = b"" if rule.lie.body is None else json.dumps(rule.lie.body).encode()
    return _answer(rule.lie.status, body, b"application/json")


class Proxy:
    """The relay, its listener, its rules and its events log."""

    def __init__(self, config: ChildConfig, events_fd: int) -> None:
        self.config = config
        self.rules = ActiveRules()
        self._events_fd = events_fd
        self._server: asyncio.Server | None = None
        self._clients: set[asyncio.StreamWriter] = set()
        self._watch: asyncio.Task[None] | None = None
        self._generation: dict[str, int] = {}
        self.port = config.listen_port
        self._max_body = config.max_body

    # ------------------------------------------------------------------ the log

    def log_event(self, event: str, rule: str, t_ns: int, **extra: Any) -> None:
        """Append one line to the events log (one write: whole lines even if we die)."""
        line = json.dumps({"t_ns": t_ns, "event": event, "rule": rule, **extra})
        os.write(self._events_fd, line.encode() + b"\n")

    # ------------------------------------------------------------------ the listener

    async def listen(self) -> None:
        """Listen on loopback (the configured port, or a free one the first time)."""
        self._server = await asyncio.start_server(
            self._client, "127.0.0.1", self.port, limit=HEAD_LIMIT, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    def _stop_listening(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None

    def _relisten(self, probe_upstream: bool) -> None:
        if self._watch is None or self._watch.done():
            self._watch = asyncio.get_running_loop().create_task(
                self._relisten_loop(probe_upstream)
            )

    async def _relisten_loop(self, probe_upstream: bool) -> None:
        while self._server is None and not self.rules.refusing():
            if not probe_upstream or await self._upstream_accepts():
                try:
                    await self.listen()
                    return
                except OSError as e:  # the port was taken meanwhile: keep trying
                    print(f"proxy: cannot listen again on {self.port}: {e}", file=sys.stderr)
            await asyncio.sleep(_PROBE_EVERY_S)

    async def _upstream_accepts(self) -> bool:
        try:
            _, writer = await asyncio.open_connection(self.config.host, self.config.port)
        except OSError:
            return False
        writer.close()
        return True

    def _refuse_now(self) -> None:
        self._stop_listening()
        for writer in list(self._clients):
            _reset(writer)

    # ------------------------------------------------------------------ rules

    def enable(self, name: str, rule: ProxyRule) -> int:
        """Switch a rule on; its stamp."""
        self.rules.enable(name, rule)
        t_ns = time.monotonic_ns()
        generation = self._generation.get(name, 0) + 1
        self._generation[name] = generation
        self.log_event("rule_on", name, t_ns, fault=rule.kind.value, rate=rule.rate)
        if rule.refuse is not None:
            self._refuse_now()
        if rule.for_ is not None:
            asyncio.get_running_loop().call_later(rule.for_, self._expire, name, generation)
        return t_ns

    def disable(self, name: str, reason: str) -> int | None:
        """Switch a rule off; its stamp, or None when it was not on."""
        if not self.rules.disable(name):
            return None
        t_ns = time.monotonic_ns()
        counts = self.rules.counts[name].as_dict()
        self.log_event("rule_off", name, t_ns, reason=reason, **counts)
        if self._server is None and not self.rules.refusing():
            self._relisten(probe_upstream=False)
        return t_ns

    def _expire(self, name: str, generation: int) -> None:
        if self._generation.get(name) != generation:
            return  # switched off and on again since: that one has its own timer
        t_ns = self.disable(name, reason="for")
        if t_ns is not None:
            counts = self.rules.counts[name].as_dict()
            _emit({"event": "rule_off", "rule": name, "t_ns": t_ns, **counts})

    def log_counts(self) -> dict[str, dict[str, int]]:
        """Every rule's counts, written to the log as ``rule_count`` lines."""
        t_ns = time.monotonic_ns()
        out = {}
        for name, counter in self.rules.counts.items():
            out[name] = counter.as_dict()
            self.log_event("rule_count", name, t_ns, **out[name])
        return out

    def close(self) -> None:
        """Switch every rule off (logged), stop listening, drop every connection."""
        for name in self.rules.names_on():
            self.disable(name, reason="close")
        self.log_counts()
        self._stop_listening()
        for writer in list(self._clients):
            writer.transport.abort()

    # ------------------------------------------------------------------ the relay

    async def _client(self, creader: asyncio.StreamReader, cwriter: asyncio.StreamWriter) -> None:
        if self.rules.refusing():  # accepted just before the listener closed
            _reset(cwriter)
            return
        self._clients.add(cwriter)
        upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        try:
            upstream = await self._serve(creader, cwriter)
        except _PeerGone as gone:
            if gone.reset:
                _reset(cwriter)
            elif gone.partial:
                cwriter.write(gone.partial)
        except (OSError, asyncio.IncompleteReadError):
            pass  # the client left: nothing to tell anyone
        except Exception as e:  # never let one connection take the proxy down
            print(f"proxy: connection failed: {type(e).__name__}: {e}", file=sys.stderr)
            _reset(cwriter)
        finally:
            self._clients.discard(cwriter)
            cwriter.close()
            if upstream is not None:
                upstream[1].transport.abort()

    async def _connect(
        self, cwriter: asyncio.StreamWriter
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        try:
            return await asyncio.open_connection(
                self.config.host, self.config.port, limit=HEAD_LIMIT
            )
        except ConnectionRefusedError:
            # Keep "refused" visible as refused: stop listening until the upstream is back.
            self._stop_listening()
            self._relisten(probe_upstream=True)
        except OSError:
            pass
        _reset(cwriter)
        return None

    async def _serve(
        self, creader: asyncio.StreamReader, cwriter: asyncio.StreamWriter
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        """Relay requests until either side ends; return the upstream connection to close."""
        upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        while True:
            try:
                raw = await creader.readuntil(b"\r\n\r\n")
                request: RequestHead | None = parse_request(raw)
            except asyncio.IncompleteReadError:
                return upstream
            except (asyncio.LimitOverrunError, HeadError) as e:
                # Not HTTP as we read it: relay raw, both ways, and let the upstream judge.
                request = None
                raw = raw if isinstance(e, HeadError) else b""
            plan = self.rules.plan()
            if request is not None and plan.end is not None:
                if not await self._end_here(plan, request, creader, cwriter):
                    return upstream
                continue
            if plan.delay_s:
                await asyncio.sleep(plan.delay_s)
            if upstream is None:
                upstream = await self._connect(cwriter)
                if upstream is None:
                    return None
            ureader, uwriter = upstream
            if request is None:
                uwriter.write(raw)
                await self._tunnel(creader, cwriter, ureader, uwriter)
                return upstream
            uwriter.write(raw)
            await _copy_body(creader, uwriter, request.framing, request.length)
            if not await self._relay_answer(request, plan, ureader, cwriter, creader, uwriter):
                return upstream
            if not request.keep_alive:
                return upstream

    async def _end_here(
        self,
        plan: Plan,
        request: RequestHead,
        creader: asyncio.StreamReader,
        cwriter: asyncio.StreamWriter,
    ) -> bool:
        """Apply a fault that ends the request here; whether the connection goes on."""
        assert plan.end is not None
        kind, rule, _ = plan.end
        if kind is FaultKind.RESET:
            _reset(cwriter)
            return False
        await _copy_body(creader, None, request.framing, request.length)
        if kind is FaultKind.DROP:
            while await creader.read(_PIECE):  # hold it, unanswered, until the client leaves
                pass
            return False
        cwriter.write(_fault_answer(kind, rule))
        await cwriter.drain()
        return request.keep_alive

    async def _relay_answer(
        self,
        request: RequestHead,
        plan: Plan,
        ureader: asyncio.StreamReader,
        cwriter: asyncio.StreamWriter,
        creader: asyncio.StreamReader,
        uwriter: asyncio.StreamWriter,
    ) -> bool:
        """Relay one answer (and any 1xx before it); whether the connection goes on."""
        while True:
            raw = await _up_until(ureader, b"\r\n\r\n")
            try:
                head = parse_response(raw)
            except HeadError:
                cwriter.write(raw)
                await self._tunnel(creader, cwriter, ureader, uwriter)
                return False
            if head.status == 101:
                cwriter.write(raw)
                await self._tunnel(creader, cwriter, ureader, uwriter)
                return False
            if head.status >= 200:
                break
            cwriter.write(raw)  # an interim answer (100 Continue, 103 Early Hints)
        framing = head.framing(request.method)
        if plan.rewrites:
            await self._relay_rewritten(head, framing, plan, ureader, cwriter)
        else:
            cwriter.write(raw)
            try:
                await _copy_body(ureader, cwriter, framing, head.length)
            except HeadError:  # a broken chunked body: the rest goes raw
                await self._tunnel(creader, cwriter, ureader, uwriter)
                return False
        await cwriter.drain()
        return framing is not Framing.CLOSE and not head.close

    async def _relay_rewritten(
        self,
        head: ResponseHead,
        framing: Framing,
        plan: Plan,
        ureader: asyncio.StreamReader,
        cwriter: asyncio.StreamWriter,
    ) -> None:
        encoded = b"content-encoding" in head.raw.lower()
        if framing is not Framing.LENGTH or head.length > self._max_body or encoded:
            for _, _, counter in plan.rewrites:
                counter.unmatched += 1
            cwriter.write(head.raw)
            await _copy_body(ureader, cwriter, framing, head.length)
            return
        try:
            body = await ureader.readexactly(head.length)
        except asyncio.IncompleteReadError as e:
            raise _PeerGone(reset=False, partial=head.raw + e.partial) from None
        except OSError:
            raise _PeerGone(reset=True) from None
        for rewrite, path, counter in plan.rewrites:
            try:
                body = apply_rewrite(body, rewrite, path)
                counter.touched += 1
            except RewriteFailed:
                counter.unmatched += 1
        cwriter.write(with_content_length(head, len(body)) + body)

    async def _tunnel(
        self,
        creader: asyncio.StreamReader,
        cwriter: asyncio.StreamWriter,
        ureader: asyncio.StreamReader,
        uwriter: asyncio.StreamWriter,
    ) -> None:
        await asyncio.gather(_pipe(creader, uwriter), _pipe(ureader, cwriter))


# ---------------------------------------------------------------------- process plumbing


def _emit(message: dict[str, Any]) -> None:
    data = json.dumps(message).encode() + b"\n"
    view = memoryview(data)
    while view:
        view = view[os.write(1, view) :]


def _fatal(message: str, code: int) -> NoReturn:
    print(f"proxy: {message}", file=sys.stderr)
    _emit({"fatal": message})
    sys.exit(code)


def _die_with_parent() -> None:
    """Ask Linux to SIGKILL us when the thread that started us exits (the harness died)."""
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        _fatal("prctl is not available: the proxy child needs Linux", EXIT_BAD_CONFIG)
    if prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) != 0:
        _fatal(f"prctl(PR_SET_PDEATHSIG) failed: {os.strerror(ctypes.get_errno())}", 1)


def _read_config(line: bytes) -> ChildConfig:
    try:
        data = json.loads(line)
        url = urlsplit(data["upstream"])
        if url.scheme != "http" or url.hostname is None:
            raise ValueError(f"upstream must be http://host:port, got {data['upstream']!r}")
        return ChildConfig(
            host=url.hostname,
            port=url.port or 80,
            listen_port=int(data.get("port", 0)),
            name=str(data["name"]),
            events_path=str(data["events_path"]),
            parent_pid=int(data["parent_pid"]),
            max_body=int(data["max_body"]),
        )
    except (ValueError, KeyError, TypeError) as e:
        _fatal(f"bad config: {type(e).__name__}: {e}", EXIT_BAD_CONFIG)


async def _commands(proxy: Proxy, stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 20)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        try:
            command = json.loads(line)
            seq = command["seq"]
        except (ValueError, KeyError, TypeError):
            print(f"proxy: unreadable command {line[:200]!r}", file=sys.stderr)
            continue
        try:
            _emit({"seq": seq, **_run_command(proxy, command)})
        except Exception as e:  # a bad command is answered, never fatal
            _emit({"seq": seq, "error": f"{type(e).__name__}: {e}"})
    stop.set()


def _run_command(proxy: Proxy, command: dict[str, Any]) -> dict[str, Any]:
    op = command.get("op")
    if op == "enable":
        rule = ProxyRule.model_validate_json(json.dumps(command["rule"]))
        return {"t_ns": proxy.enable(str(command["name"]), rule)}
    if op == "disable":
        t_ns = proxy.disable(str(command["name"]), reason="harness")
        return {"t_ns": time.monotonic_ns() if t_ns is None else t_ns, "was_on": t_ns is not None}
    if op == "counts":
        return {"t_ns": time.monotonic_ns(), "counts": proxy.log_counts()}
    raise ValueError(f"unknown op {op!r}")


async def _run(config: ChildConfig) -> int:
    fd = os.open(config.events_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
    proxy = Proxy(config, fd)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    try:
        await proxy.listen()
    except OSError as e:
        _fatal(f"cannot listen on 127.0.0.1:{config.listen_port}: {e}", 1)
    _emit({"ready": proxy.port, "t_ns": time.monotonic_ns()})
    commands = loop.create_task(_commands(proxy, stop))
    await stop.wait()
    commands.cancel()
    proxy.close()
    os.close(fd)
    return EXIT_OK


def main() -> NoReturn:
    """Relay until stdin ends or SIGTERM; see the module docstring."""
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the harness, not the keyboard, stops us
    config = _read_config(sys.stdin.buffer.readline())
    if os.getppid() != config.parent_pid:
        _fatal(f"parent is pid {os.getppid()}, expected {config.parent_pid}", EXIT_ORPHANED)
    sys.exit(asyncio.run(_run(config)))


if __name__ == "__main__":
    main()
