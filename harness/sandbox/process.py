"""The embedded default sandbox: the target as a child process in its own session.

The child gets a private working directory, resource limits, its secrets in files only it
can read, and a parent-death signal so it cannot outlive the harness; its process group is
labelled with the run id so a later run can sweep it if the harness was SIGKILLed. Whatever
it forks, even a daemon that leaves its session and clears its environment, is contained
(a cgroup of the run, or the harness as subreaper) and killed at teardown, which names it.
The answering socket must be held by the sandbox's own processes, or the run stops with an
error naming the process that squats the port.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from harness.control import fill_command
from harness.errors import SandboxError
from harness.halt import Halt
from harness.redact import redactor_for
from harness.sandbox import reaper
from harness.sandbox.base import Endpoint, KilledLeftover, Sandbox, TeardownReport, TeardownWay
from harness.sandbox.capture import OutputCapture
from harness.sandbox.containment import Containment
from harness.sandbox.files import write_secrets
from harness.sandbox.ownership import check_port_free, check_port_owned, listeners_on
from harness.sandbox.ready import pause_interruptibly, raise_if_halted, wait_ready
from harness.sandbox_kind import SandboxKind
from harness.spec.models import ProcessSandboxSpec, ReadySpec
from harness.spec.ports import parse_port
from harness.target_events import copy_event_log

__all__ = ["ProcessSandbox", "free_port"]

STDERR_EOF_S = 2.0
"""How long an exited target's stderr may stay open (held by a descendant) before its
error is written with what the capture has so far."""

_PR_SET_PDEATHSIG = 1
HOST = "127.0.0.1"


def free_port(host: str = HOST) -> int:
    """A port free on ``host`` right now (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _child_setup(limits: Mapping[int, int], join: Callable[[], None]) -> Callable[[], None]:
    """Build the pre-exec hook: join the run's containment, die with the harness, then apply
    resource limits."""
    libc = ctypes.CDLL(None, use_errno=True)

    def setup() -> None:
        join()
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        for which, value in limits.items():
            resource.setrlimit(which, (value, value))

    return setup


class ProcessSandbox(Sandbox):
    """Runs a target's command as a child process on a loopback port."""

    name = SandboxKind.PROCESS

    def __init__(
        self,
        *,
        spec: ProcessSandboxSpec,
        ready: ReadySpec,
        target_dir: Path,
        workdir: Path,
        secrets: Mapping[str, str],
        run_id: str,
        extra_args: tuple[str, ...] = (),
        log_dir: Path,
        clock: Callable[[], int] = time.monotonic_ns,
        values: Mapping[str, str] | None = None,
    ) -> None:
        self._spec = spec
        self._values = secrets if values is None else values
        """Every ``${NAME}`` of the run: resolved in ``env``, hidden in the target's output."""
        self._ready = ready
        self._target_dir = target_dir
        self._workdir = workdir
        self._secrets = secrets
        self._run_id = run_id
        self._extra_args = extra_args
        self._log_dir = log_dir
        self._clock = clock
        self._proc: subprocess.Popen[bytes] | None = None
        self._captures: list[OutputCapture] = []
        self._report: TeardownReport | None = None
        self._endpoint: Endpoint | None = None
        self._containment: Containment | None = None
        self._halt: Halt | None = None
        self.exited_ns: int | None = None
        self.exit_code: int | None = None

    # ------------------------------------------------------------------ start

    def _placeholders(self, port: int | None) -> dict[str, str]:
        return {
            "python": sys.executable,
            "target_dir": str(self._target_dir),
            "workdir": str(self._workdir),
            "secrets_dir": str(self._workdir / "secrets"),
            "host": HOST,
            "port": "" if port is None else str(port),
            "base_url": "" if port is None else f"http://{HOST}:{port}",
        }

    def _fill(self, text: str, values: Mapping[str, str]) -> str:
        for key, value in values.items():
            text = text.replace("{" + key + "}", value)
        return text

    def start(self, halt: Halt | None = None) -> Endpoint:
        """Start the command, wait for its port and readiness, prove the port is the target's.

        Raises SandboxError on failure (naming a squatter on the port), Interrupted as soon as
        ``halt`` is set.
        """
        self._halt = halt
        raise_if_halted(halt)
        self._workdir.mkdir(parents=True, exist_ok=True)
        write_secrets(self._workdir / "secrets", self._secrets, mode=0o600)
        port = self._spec.port
        if port is None and not self._spec.port_file:
            port = free_port()
        if port is not None:
            check_port_free(HOST, port)  # a fixed port's squatter is named by its pid
        values = self._placeholders(port)
        argv = [self._fill(a, values) for a in self._spec.command] + list(self._extra_args)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "PYTHONUNBUFFERED": "1",
            # glibc reserves a 64 MiB malloc arena per thread; under the address-space limit
            # a threaded server would run out of threads long before it ran out of memory.
            "MALLOC_ARENA_MAX": "2",
            # Secrets reach the target here or as files, never in argv (which others can read).
            # Filled and resolved in one pass: a secret's value is never scanned again.
            **{
                k: str(fill_command(v, values, self._values, shell=False))
                for k, v in self._spec.env.items()
            },
            **reaper.labels(self._run_id),
        }
        limits = {}
        if self._spec.limits.memory_mb:
            limits[resource.RLIMIT_AS] = self._spec.limits.memory_mb * 1024 * 1024
        if self._spec.limits.cpu_s:
            limits[resource.RLIMIT_CPU] = self._spec.limits.cpu_s
        if self._spec.limits.nofile:
            limits[resource.RLIMIT_NOFILE] = self._spec.limits.nofile
        self._log_dir.mkdir(parents=True, exist_ok=True)
        redactor = redactor_for(self._values)
        self._captures = [
            OutputCapture(self._log_dir / "target.stdout.log", redactor=redactor),
            OutputCapture(self._log_dir / "target.stderr.log", redactor=redactor),
        ]
        out, err = self._captures
        self._containment = Containment(self._run_id)
        cwd = self._workdir if self._spec.cwd is None else Path(self._fill(self._spec.cwd, values))
        try:
            self._proc = subprocess.Popen(
                argv,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out.write_fd,
                stderr=err.write_fd,
                start_new_session=True,
                preexec_fn=_child_setup(limits, self._containment.preexec()),
            )
        except OSError as exc:
            where = f" in {cwd}" if self._spec.cwd is not None else ""
            raise SandboxError(f"cannot start target {argv[0]!r}{where}: {exc.strerror}") from None
        finally:
            for capture in self._captures:
                capture.start()
        self._containment.adopted(self._proc.pid)
        deadline = self._clock() + self._ready.timeout_ns
        if self._spec.port_file:
            port = self._wait_port_file(Path(self._fill(self._spec.port_file, values)), deadline)
        assert port is not None
        self._endpoint = Endpoint(f"http://{HOST}:{port}", HOST, port, self._proc.pid)
        self._wait_ready(deadline)
        # Readiness proves something answers; only the socket's holder proves it is ours.
        held_by = check_port_owned(HOST, port, self._containment.belongs)
        self._endpoint = dataclasses.replace(self._endpoint, port_held_by=tuple(held_by))
        return self._endpoint

    def _check_running(self, waiting_for: str) -> None:
        assert self._proc is not None
        code = self._proc.poll()
        if code is not None:
            self._note_exit(code)
            tail = self._stderr_tail()
            raise SandboxError(
                f"target exited with code {code} while waiting for {waiting_for}"
                + (f"; its stderr ends:\n{tail}" if tail else "")
            )

    def _stderr_tail(self) -> str:
        """The end of what an exited target wrote to stderr. Its capture redacts as the output
        streams and writes the last bytes only when the pipe closes, so wait for that first
        (briefly: a descendant may hold the pipe open)."""
        if len(self._captures) == 2:
            self._captures[1].close(timeout_s=STDERR_EOF_S)
        return _tail(self._log_dir / "target.stderr.log")

    def _wait_port_file(self, path: Path, deadline: int) -> int:
        while self._clock() < deadline:
            raise_if_halted(self._halt)
            self._check_running("its port file")
            with contextlib.suppress(OSError), path.open("rb") as file:
                text = file.read(64).decode("ascii", "replace").strip()  # bounded: hostile
                if text:
                    try:
                        return parse_port(text)
                    except ValueError as exc:  # hostile: a port past 65535 would wrap around
                        raise SandboxError(f"target's port file {path}: {exc}") from None
            pause_interruptibly(0.01, self._halt)
        raise_if_halted(self._halt)
        raise SandboxError(f"target wrote no port to {path} within {self._ready.timeout:g}s")

    def _wait_ready(self, deadline: int) -> None:
        assert self._endpoint is not None and self._proc is not None
        proc = self._proc

        def exited() -> str | None:
            code = proc.poll()
            if code is None:
                return None
            self._note_exit(code)
            return f"exited with code {code}"

        try:
            wait_ready(
                self._ready,
                self._endpoint,
                deadline_ns=deadline,
                clock=self._clock,
                exited=exited,
                stderr_tail=self._stderr_tail,
                halt=self._halt,
                places=self._placeholders(self._endpoint.port),
                redactor=redactor_for(self._values),
            )
        except SandboxError as exc:
            if self._spec.port is None or exited() is not None:
                raise
            # A fixed port the target never binds looks like a slow target: say which it is.
            if not listeners_on(HOST, self._spec.port):
                raise SandboxError(
                    f"{exc}; nothing listens on the fixed port {self._spec.port} (port:"
                    " in the target file): does the target bind that port?"
                ) from None
            raise

    # ------------------------------------------------------------------ control

    def send_signal(self, signum: int, *, to_group: bool) -> None:
        """Deliver ``signum``; raises ProcessLookupError when the target is gone."""
        if self._proc is None:
            raise ProcessLookupError("target was never started")
        if self._proc.poll() is not None:
            self._note_exit(self._proc.returncode)
            raise ProcessLookupError(f"target already exited with code {self._proc.returncode}")
        if to_group:
            os.killpg(self._proc.pid, signum)
        else:
            self._proc.send_signal(signum)

    def alive(self) -> bool:
        """Whether the main process still runs (reaping it if it just exited)."""
        if self._proc is None:
            return False
        code = self._proc.poll()
        if code is not None:
            self._note_exit(code)
            return False
        return True

    def _note_exit(self, code: int) -> None:
        if self.exited_ns is None:
            self.exited_ns = self._clock()
            self.exit_code = code

    @property
    def pid(self) -> int | None:
        """The target's main process id."""
        return None if self._proc is None else self._proc.pid

    @property
    def events_path(self) -> Path | None:
        """The target's ground-truth event log, if it keeps one."""
        if self._spec.events is None:
            return None
        return Path(self._fill(self._spec.events, self._placeholders(None)))

    # ------------------------------------------------------------------ teardown

    def teardown(self, grace_s: float = 2.0) -> TeardownReport:
        """End the whole process group, then every process that escaped it; report both."""
        if self._report is not None:
            return self._report
        proc = self._proc
        if proc is None:
            self._report = TeardownReport(TeardownWay.ALREADY_GONE, None, "never started")
            return self._report
        way = TeardownWay.ALREADY_GONE
        if proc.poll() is None:
            way = TeardownWay.TERMINATED
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                way = TeardownWay.KILLED
        else:
            self._note_exit(proc.returncode)
        # Whatever is left in the group (a supervisor's children, say) goes too.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)
        leftovers: tuple[KilledLeftover, ...] = ()
        if self._containment is not None:
            leftovers = self._containment.kill_all()
            self._containment.close()
        for capture in self._captures:
            capture.close()
        dropped = sum(c.dropped for c in self._captures)
        self._report = TeardownReport(
            way,
            proc.returncode,
            ("the harness's own teardown; not counted as a stop"
             if way is not TeardownWay.ALREADY_GONE
             else "the target had already exited")
            + (f"; {dropped} bytes of its output dropped beyond the log cap" if dropped else "")
            + (f"; killed {len(leftovers)} process(es) that escaped its process group: "
               + ", ".join(f"pid {k.pid} ({k.cmdline[:80]})" for k in leftovers)
               if leftovers else ""),
            leftovers_killed=leftovers,
        )  # fmt: skip
        return self._report

    def collect(self, into: Path) -> list[Path]:
        """Copy the target's event log into ``into`` (its stdout/stderr are written there)."""
        written = []
        events = self.events_path
        if events is not None and events.is_file():
            dest = into / "target.events.jsonl"
            copy_event_log(events, dest)  # bounded: a target may write gigabytes
            written.append(dest)
        return written

    def cleanup_workdir(self) -> None:
        """Remove the private working directory (secrets included)."""
        shutil.rmtree(self._workdir, ignore_errors=True)


def _tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.strip().splitlines()[-lines:])
