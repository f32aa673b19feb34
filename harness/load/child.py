"""The load child: Locust users hit the target, and every request goes out on stdout as it ends.

Run only as ``python -m harness.load.child``, never imported by the harness: Locust
monkey-patches the interpreter with gevent on import (see :mod:`harness.load.process`).

Protocol
--------
stdin
    The first line is the :class:`~harness.load.config.LoadConfig` as JSON (its
    ``model_dump_json``). The child reads it only once Locust is imported (``#W``), so it can
    be started before the target's address is known. After it, stdin stays open; its end
    (EOF, e.g. the harness closed it or died) means "stop". Lines it may carry:
    ``#P <seq>``
        a ping: answered at once with ``#Q <seq> <t_ns>``, ``t_ns`` on this child's clock
        (the harness estimates a worker's clock offset from these:
        :mod:`harness.load.clock_offset`).
    ``#G``
        (master only) go: start the load once every worker has joined.
stdout (binary, line-oriented, ASCII except versions which are UTF-8)
    ``<start_ns>,<end_ns>,<status>,<state>,<harmful>,<version>``
        one observation (:meth:`harness.observations.Observation.to_line`).
    ``#W <t_ns>``
        warm: Locust and gevent are imported at ``t_ns`` (monotonic clock) and the child now
        waits for its config line. Always the first line.
    ``#H <t_ns>``
        heartbeat, every ``heartbeat_s``: the child is alive at ``t_ns`` (monotonic clock).
    ``#R <users>``
        all users are spawned.
    ``#E <message>``
        a fatal error; the child stops and exits non-zero.
    ``#D <observations>``
        the clean end: every observation (this many) has been written; the exit follows.
    ``#M <port>``
        (master only) the port the master listens on for its workers (loopback).
    ``#Q <seq> <t_ns>``
        the answer to ping ``seq``.
    ``S,...`` and ``H,...`` (``load.stream`` only)
        a stream ended, and a stream's first harmful chunk (:mod:`harness.load.streaming`).
    Observation lines start with a digit, control lines with ``#``, stream lines with ``S`` or
    ``H``: they cannot be confused.
stderr
    Locust's own logging and tracebacks, for the harness to keep as a file.

Signals: SIGTERM stops cleanly (before the config: ``#D 0`` and exit 0); SIGINT is ignored
(a terminal's Ctrl-C reaches the whole process group, and the harness, not the keyboard, ends
its load).

Exit codes: 0 after a clean stop (SIGTERM or EOF on stdin), 1 a fatal error during the load,
2 a bad config, 3 the parent is not the one named in the config, or in ``GOVDRILL_LOAD_PARENT``
at start (it already died).

Timing: each request is timed here with ``time.monotonic_ns()`` (the system-wide monotonic
clock the harness uses too) just before it is sent and just after its body is read.

Roles (``config.role``): ``local`` runs every user in this process. In Locust's distributed
mode a ``master`` child runs Locust's MasterRunner (no request, no observation: ``#M``, ``#H``,
``#R``, ``#D 0``) and each ``worker`` child runs a WorkerRunner whose users stream their
observations here exactly as a local child's do.

Bodies: at most ``config.max_body`` bytes of a body are read and judged. A longer body's
observation is marked truncated and its connection closed, not drained: a target sending
gigabytes costs the load one cap of memory per user, and the time to read the cap.

Backpressure: lines are batched and written every 10 ms (and whenever 4096 are pending) with a
blocking write, so when the harness reads slowly the whole child waits rather than buffering
without bound.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import random
import signal
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final, NoReturn
from urllib.parse import urlsplit

# Pure modules (the standard library and pydantic, which imports ssl and asyncio but creates
# no SSL context: gevent patches them safely after it; test_https_load holds that). Locust and
# gevent are imported in _warm_up(). Never import requests, urllib3 or docker here: they take
# references to ssl's classes that the patching cannot reach (RecursionError on first use).
from pydantic import ValidationError

from harness.judging import Failure, compile_judge, compile_state
from harness.load.clock_offset import skewed_clock
from harness.load.config import LoadConfig, LoadRole
from harness.load.warm import PARENT_ENV
from harness.observations import Observation

__all__ = ["main"]

_PR_SET_PDEATHSIG: Final = 1
_FLUSH_EVERY_S: Final = 0.01
_MAX_PENDING_LINES: Final = 4096
_BODY_PIECE: Final = 1 << 16
_MAX_COMMAND: Final = 4096

EXIT_OK: Final = 0
EXIT_FATAL: Final = 1
EXIT_BAD_CONFIG: Final = 2
EXIT_ORPHANED: Final = 3


def _die_with_parent() -> None:
    """Ask Linux to SIGKILL us when the thread that started us exits (the harness died)."""
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        _fatal("prctl is not available: the load child needs Linux", EXIT_FATAL)
    if prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) != 0:
        err = ctypes.get_errno()
        _fatal(f"prctl(PR_SET_PDEATHSIG) failed: {os.strerror(err)}", EXIT_FATAL)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            written = os.write(fd, view)
        except InterruptedError:
            continue
        view = view[written:]


def _fatal(message: str, code: int) -> NoReturn:
    line = " ".join(message.split())  # one line, whatever the message
    _write_all(1, f"#E {line}\n".encode("utf-8", errors="replace"))
    sys.exit(code)


class _Stream:
    """Batches stdout lines; the flusher greenlet writes them, or ``put`` when too many pile up."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._pending: list[str] = []
        self.observations = 0

    def put(self, line: str) -> None:
        pending = self._pending
        pending.append(line)
        if len(pending) >= _MAX_PENDING_LINES:
            self.flush()

    def put_observation(self, line: str) -> None:
        self.observations += 1
        self.put(line)

    def flush(self) -> None:
        pending = self._pending
        if pending:
            data = "".join(pending).encode("utf-8", errors="replace")
            pending.clear()
            _write_all(self._fd, data)


class _HeaderView(Mapping[str, str]):
    """The answer's headers as the harm rules want them: case-insensitive, one string each."""

    __slots__ = ("_headers",)

    def __init__(self, headers: Any) -> None:
        self._headers = headers  # geventhttpclient's case-insensitive Headers

    def get(self, key: str, default: Any = None) -> Any:
        value = self._headers.get(key)
        if value is None:
            return default
        return value if isinstance(value, str) else ", ".join(value)

    def __getitem__(self, key: str) -> str:
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return str(value)

    def __iter__(self) -> Iterator[str]:
        return iter(self._headers.keys())

    def __len__(self) -> int:
        return len(self._headers)


def _read_config() -> LoadConfig:
    line = sys.stdin.buffer.readline()
    if not line.strip():
        _fatal("bad config: stdin closed before the config line", EXIT_BAD_CONFIG)
    try:
        return LoadConfig.model_validate_json(line)
    except ValidationError as e:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'config'}: {err['msg']}"
            for err in e.errors(include_url=False)
        )
        _fatal(f"bad config: {problems}", EXIT_BAD_CONFIG)


_sigterm_early: list[int] = []


class _StopBeforeConfig(Exception):
    """SIGTERM while the child waited for its config: nothing ran, so nothing to report."""


def _remember_sigterm(signum: int, frame: object) -> None:
    _sigterm_early.append(signum)


def _stop_waiting(signum: int, frame: object) -> None:
    raise _StopBeforeConfig


def _check_spawning_parent() -> None:
    """Exit at once when the harness named in the environment is no longer our parent: a
    spare child waits for its config for a whole drill, so this cannot wait for the config."""
    expected = os.environ.get(PARENT_ENV, "")
    if expected.isdigit() and os.getppid() != int(expected):
        _fatal(
            f"parent is pid {os.getppid()}, expected {expected}: the harness is gone",
            EXIT_ORPHANED,
        )


def _warm_up() -> None:
    """Import what every load needs; importing locust monkey-patches the interpreter with
    gevent, and this is most of the child's start (~0.5 s), done before any config exists."""
    import gevent
    import gevent.event
    import gevent.os
    import geventhttpclient.response
    import locust
    import locust.env

    del gevent, geventhttpclient, locust


def _stop_before_config() -> NoReturn:
    _write_all(1, b"#D 0\n")
    sys.exit(EXIT_OK)


def main() -> NoReturn:
    """Warm up, then run one load as described on stdin until SIGTERM or EOF; see the module
    docstring."""
    # Armed before anything slow: a harness killed from here on takes this process with it;
    # the pid check below closes the window between our fork and this call.
    _die_with_parent()
    _check_spawning_parent()
    # A SIGTERM that arrives while Locust is still importing must still end in a clean stop.
    signal.signal(signal.SIGTERM, _remember_sigterm)
    # We share the harness's process group, so a terminal's Ctrl-C reaches us too: the
    # harness decides when its load ends (EOF or SIGTERM), not the keyboard.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _warm_up()
    _write_all(1, f"#W {time.monotonic_ns()}\n".encode())
    try:
        # A spare waits here for a whole drill: a SIGTERM must end the wait, not queue up.
        signal.signal(signal.SIGTERM, _stop_waiting)
        if _sigterm_early:
            raise _StopBeforeConfig
        config = _read_config()
        signal.signal(signal.SIGTERM, _remember_sigterm)
    except _StopBeforeConfig:
        _stop_before_config()
    if os.getppid() != config.parent_pid:
        _fatal(
            f"parent is pid {os.getppid()}, expected {config.parent_pid}: the harness is gone",
            EXIT_ORPHANED,
        )
    code = _run(config)
    # Every line is written (os.write, unbuffered). The interpreter's own shutdown with gevent
    # and Locust loaded (their exit hooks, module teardown) took 0.3-0.5 s of every drill's
    # load stop, and it has nothing left to save.
    sys.stderr.flush()
    os._exit(code)


def _run(config: LoadConfig) -> int:
    # Already imported by _warm_up, before the config was read.
    import gevent
    import gevent.event
    import gevent.os
    from locust import User, task
    from locust.env import Environment

    stream = _Stream(sys.stdout.fileno())
    clock = skewed_clock(config.clock_skew_ns)
    stop = gevent.event.Event()
    go = gevent.event.Event()
    fatal: list[str] = []
    send_one = (
        _request_sender(config, stream) if not config.stream else _stream_sender(config, stream)
    )
    period = None if config.per_user_rate is None else 1.0 / config.per_user_rate
    role = config.role

    class DrillUser(User):
        """One simulated client: one keep-alive connection, one request at a time."""

        host = config.base_url

        def __init__(self, environment: Any) -> None:
            super().__init__(environment)
            self._client = _http_client(config)
            # Locust's constant_throughput anchors each user's schedule to its spawn, and
            # users spawn on a common clock: they would send in lockstep, making the bounds'
            # resolution the period instead of the gap between requests. Each user here
            # keeps its own schedule from a random phase within one period.
            self._next_send = time.monotonic() + (
                random.uniform(0.0, period) if period is not None else 0.0
            )

        def wait_time(self) -> float:
            if period is None:
                return 0.0
            now = time.monotonic()
            self._next_send = max(self._next_send + period, now)
            return self._next_send - now

        @task
        def send(self) -> None:
            send_one(self._client)

        def on_stop(self) -> None:
            self._client.close()

    env = Environment(user_classes=[DrillUser], host=config.base_url)
    if role is LoadRole.MASTER:
        # Loopback only, on a port the kernel picks: nothing outside this host can join, and
        # two drills never race for one port. The master sends no request itself.
        runner: Any = env.create_master_runner(
            master_bind_host=config.master_host, master_bind_port=0
        )
        _write_all(1, f"#M {runner.server.port}\n".encode())
    elif role is LoadRole.WORKER:
        runner = env.create_worker_runner(config.master_host, config.master_port)
    else:
        runner = env.create_local_runner()

    def on_spawned(user_count: int, **_: Any) -> None:
        # A worker hears the whole load's count from its master; it reports its own users.
        stream.put(f"#R {runner.user_count if role is LoadRole.WORKER else user_count}\n")

    def on_user_error(user_instance: Any, exception: BaseException, tb: Any) -> None:
        fatal.append(f"a load user failed: {type(exception).__name__}: {exception}")
        stop.set()

    env.events.spawning_complete.add_listener(on_spawned)  # type: ignore[no-untyped-call]
    env.events.user_error.add_listener(on_user_error)  # type: ignore[no-untyped-call]

    def heartbeat() -> None:
        while True:
            stream.put(f"#H {clock()}\n")
            gevent.sleep(config.heartbeat_s)

    def flusher() -> None:
        while True:
            gevent.sleep(_FLUSH_EVERY_S)
            stream.flush()

    def command(line: bytes) -> None:
        kind, _, rest = line.strip().partition(b" ")
        if kind == b"#P":
            # Answered at once and unbatched, stamped as late as possible before the write:
            # the harness bounds the stamp by its own send and receive instants.
            with contextlib.suppress(ValueError):
                _write_all(1, f"#Q {int(rest)} {clock()}\n".encode())
        elif kind == b"#G":
            go.set()

    def watch_stdin() -> None:
        pending = b""
        try:
            gevent.os.make_nonblocking(0)
            while data := gevent.os.nb_read(0, 4096):
                *lines, pending = (pending + data).split(b"\n")
                for line in lines:
                    command(line)
                if len(pending) > _MAX_COMMAND:  # the harness never writes such a line
                    pending = b""
        except OSError:
            pass
        stop.set()

    def start_master() -> None:
        # The load starts once the harness has measured every worker's clock (#G) and every
        # worker has joined; Locust then deals the users out among them.
        go.wait()
        while runner.worker_count < config.workers:
            gevent.sleep(0.01)
        runner.start(config.users, spawn_rate=config.spawn_rate)

    gevent.signal_handler(signal.SIGTERM, stop.set)
    if _sigterm_early:
        stop.set()
    helpers = [gevent.spawn(heartbeat), gevent.spawn(flusher), gevent.spawn(watch_stdin)]
    if role is LoadRole.MASTER:
        helpers.append(gevent.spawn(start_master))
    elif role is LoadRole.LOCAL:
        runner.start(config.users, spawn_rate=config.spawn_rate)
    stop.wait()
    if role is LoadRole.MASTER:
        # Not runner.quit(): it waits half a second for statistics nobody reads. The harness
        # stops each worker itself.
        runner.greenlet.kill(block=False)
    else:
        runner.quit()
    gevent.killall(helpers, block=True)
    if fatal:
        stream.flush()
        _fatal(fatal[0], EXIT_FATAL)
    stream.put(f"#D {stream.observations}\n")
    stream.flush()
    return EXIT_OK


def _http_client(config: LoadConfig) -> Any:
    """A geventhttpclient client holding at most one keep-alive connection to the target.

    This is the engine of Locust's ``FastHttpUser``, used directly: ``FastHttpSession`` treats
    every non-2xx status as a failure and releases such a response before its body is read
    (closing the connection on each 503), and feeds Locust statistics this load never reads.
    """
    from geventhttpclient import HTTPClient

    url = urlsplit(config.base_url)
    https = url.scheme == "https"
    return HTTPClient(
        url.hostname or "",
        port=url.port or (443 if https else 80),
        ssl=https,
        insecure=True,
        concurrency=1,
        connection_timeout=config.timeout_s,
        network_timeout=config.timeout_s,
    )


def _request_sender(config: LoadConfig, stream: _Stream) -> Callable[[Any], None]:
    """Resolve the request and the judging once; return ``send(client)`` for the user task."""
    import gevent
    from geventhttpclient.response import HTTPConnectionClosed

    request = config.request
    method = request.method
    uri = urlsplit(config.base_url).path.rstrip("/") + request.path
    body = request.encoded_body()
    headers = dict(request.headers)
    if request.json_body is not None and not any(k.lower() == "content-type" for k in headers):
        headers["Content-Type"] = "application/json"
    judge = compile_judge(config.harm, config.version)
    state_of = compile_state(config.safe_state)
    max_body = config.max_body
    clock = skewed_clock(config.clock_skew_ns)
    put = stream.put_observation
    refused, reset = Failure.CONNECTION_REFUSED, Failure.CONNECTION_RESET
    timeout, protocol = Failure.TIMEOUT, Failure.PROTOCOL

    def send(client: Any) -> None:
        failure: Failure | None = None
        status = 0
        data = b""
        truncated = False
        answer_headers: Any = None
        response = None
        start = clock()
        try:
            response = client.request(method, uri, body=body, headers=headers)
            data, truncated = _read_capped(response, max_body)
            end = clock()
            status = response.status_code
            answer_headers = response.info()
        except ConnectionRefusedError:
            failure = refused
        except (ConnectionResetError, BrokenPipeError, HTTPConnectionClosed):
            failure = reset
        except (TimeoutError, gevent.Timeout):
            failure = timeout
        except OSError as e:
            failure = _failure_of_errno(e.errno)
        except Exception:  # an unparsable answer and the like
            failure = protocol
        finally:
            if response is not None:
                response.release()
        if failure is not None:
            end = clock()
            status = 0
            harmful, version = False, ""
        else:
            harmful, version = judge(status, _HeaderView(answer_headers), data, end - start)
        state = state_of(status, failure, data)
        put(Observation(start, end, status, state, harmful, version, truncated).to_line())

    return send


def _stream_sender(config: LoadConfig, stream: _Stream) -> Callable[[Any], None]:
    """``send(client)`` for ``load.stream``: each answer read as server-sent events."""
    from harness.load.streaming import stream_sender

    return stream_sender(
        config, stream.put, stream.put_observation, _HeaderView, _read_capped, _failure_of_errno
    )


def _read_capped(response: Any, cap: int) -> tuple[bytes, bool]:
    """At most ``cap`` bytes of the body, and whether there was more.

    Read a piece at a time, so a body of gigabytes never sits in memory; what is left unread
    makes the response unreusable, and its release closes the connection instead of draining it.
    """
    pieces: list[bytes] = []
    got = 0
    while got <= cap:
        piece = response.read(min(_BODY_PIECE, cap + 1 - got))
        if not piece:
            return b"".join(pieces), False
        pieces.append(piece)
        got += len(piece)
    return b"".join(pieces)[:cap], True


def _failure_of_errno(code: int | None) -> Failure:
    if code == errno.ECONNREFUSED:
        return Failure.CONNECTION_REFUSED
    if code in (errno.ECONNRESET, errno.EPIPE, errno.ECONNABORTED):
        return Failure.CONNECTION_RESET
    if code == errno.ETIMEDOUT:
        return Failure.TIMEOUT
    return Failure.PROTOCOL


if __name__ == "__main__":
    main()
