"""The one redaction point: every secret of a run, in every encoding it can take, hidden.

A ``Redactor`` is built once per run from every value a ``${NAME}`` resolved to. It
precomputes the forms a secret takes on its way through a target and back:

- raw; JSON-escaped (ASCII-only and not, with ``\\/`` too); Python ``repr`` (str and bytes,
  as ``http.client`` quotes a bad header); HTML-escaped (``&quot;`` and ``&#34;``, and of the
  JSON form, as in ``report.html``);
- URL-encoded (``quote`` with and without ``/`` safe, ``quote_plus``; upper and lower hex);
- each of those escapes applied to each other's output once more (a JSON answer quoted in a
  JSON detail, a detail in HTML), which an echo inside a status answer produces;
- base64 (standard and URL-safe): the whole value, and the *core* of the secret at each of
  the three byte alignments it can have inside a longer encoded text. A byte string ``s`` at
  offset ``a`` of an encoded text fixes the base64 characters whose six bits all come from
  ``s``; those are the same whatever surrounds it, so ``base64(user:secret)`` (HTTP Basic),
  ``base64(headers)`` and the like are caught without knowing the user or the neighbours.
  At most the two boundary characters, which mix a few bits of the secret's first and last
  byte with its neighbours', are left.

Each form is replaced by ``[REDACTED:<name>]`` in every string before any truncation. Text
cut at a read limit (``redact(..., cut=True)``) also hides a tail that is the beginning of a
form, so a secret straddling the cut leaves at most ``MIN_FRAGMENT - 1`` characters.

Values shorter than ``MIN_SECRET_CHARS`` are refused where secrets are resolved
(``harness.secrets``): they are guessable, and hiding every occurrence of a short string would
mangle the evidence (numbers, hashes, words).

Where redaction happens: the journal (``Timeline``) per event, before the live view sees
it; every file written with
``evidence.write_atomic``/``write_json`` into a run folder registered here (``register``),
which is how ``summary.json``, snapshots, ``junit.xml`` and ``report.html`` pass through it;
the target's stdout/stderr as they are captured (``StreamRedactor``); control-path details
before they are cut; error messages (``redact_error``); and, before the run is sealed, one
pass over every file of the run folder (``scrub_folder``) for what was copied in by other
means (the load's stderr, a container's logs, the target's event log).
"""

from __future__ import annotations

import base64
import gzip
import html
import io
import json
import os
import re
import tempfile
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

__all__ = [
    "MIN_FRAGMENT",
    "MIN_SECRET_CHARS",
    "NO_SECRETS",
    "Redactor",
    "SecretValues",
    "StreamRedactor",
    "redactor_for",
    "redactor_for_path",
    "register",
    "scrub_folder",
]

MIN_SECRET_CHARS = 8
"""The shortest value a ``${NAME}`` may resolve to."""
MIN_FRAGMENT = 4
"""The shortest beginning of a form hidden at the end of text that was cut off."""
_CHUNK = 1 << 16


def _escapes() -> tuple[Callable[[str], str], ...]:
    """The ways text gets escaped on its way into JSON, URLs, HTML and Python messages."""
    return (
        lambda t: json.dumps(t)[1:-1],
        lambda t: json.dumps(t, ensure_ascii=False)[1:-1],
        lambda t: json.dumps(t)[1:-1].replace("/", "\\/"),
        lambda t: quote(t, safe=""),
        quote,
        quote_plus,
        lambda t: re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), quote(t, safe="")),
        html.escape,
        lambda t: html.escape(t, quote=False),
        lambda t: t.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        .replace('"', "&#34;").replace("'", "&#39;"),
        lambda t: repr(t)[1:-1],
        lambda t: repr(t.encode())[2:-1],
    )  # fmt: skip


_ESCAPES = _escapes()


def _forms(secret: str) -> set[str]:
    """Every encoding of ``secret`` that a target or a library may produce: each escape, each
    escape of an escape (a JSON answer inside a JSON detail, a JSON detail inside HTML), and
    base64 of the raw and the JSON-escaped value."""
    once = {escape(secret) for escape in _ESCAPES}
    twice = {escape(form) for form in once for escape in _ESCAPES}
    forms = {secret} | once | twice
    for data in {secret.encode(), json.dumps(secret)[1:-1].encode()}:
        forms |= _base64_forms(data)
    return {f for f in forms if f}


def _base64_forms(data: bytes) -> set[str]:
    """Whole-value base64 and the alignment-independent cores (standard and URL-safe)."""
    found = {base64.b64encode(data).decode()}
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + data).decode()
        first = -(-offset * 8 // 6)  # the first character made of the secret's bits only
        last = (offset + len(data)) * 8 // 6  # the characters all of whose bits are known
        found.add(encoded[first:last])
    return found | {f.translate(str.maketrans("+/", "-_")) for f in found}


def _trie(words: list[list[str]] | list[list[bytes]]) -> str:
    """One pattern matching any of ``words`` (sequences of characters or single bytes),
    longest first, shaped as a trie: the regex engine branches on each character instead of
    trying a few hundred alternatives at every position (about 15 times faster)."""
    root: dict[Any, Any] = {}
    for word in words:
        node = root
        for unit in word:
            node = node.setdefault(unit, {})
        node[None] = {}  # a word ends here

    def build(node: dict[Any, Any]) -> str:
        ends = None in node
        branches = [
            _escape(unit) + build(child) for unit, child in node.items() if unit is not None
        ]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        # Greedy: a longer form wins; the shorter one that ends here is the fallback.
        return f"(?:{body})?" if ends else body

    return build(root)


def _escape(unit: str | bytes) -> str:
    if isinstance(unit, bytes):
        return re.escape(unit.decode("latin-1")) if unit < b"\x80" else f"\\x{unit[0]:02x}"
    return re.escape(unit)


class Redactor:
    """Hides every form of a run's secrets; built once, then applied to every string."""

    def __init__(self, secrets: Mapping[str, str] | Iterable[str] = ()) -> None:
        named = (
            dict(secrets)
            if isinstance(secrets, Mapping)
            else {str(i): s for i, s in enumerate(secrets)}
        )
        by_form: dict[str, str] = {}
        for name, secret in named.items():
            if not secret:
                continue
            for form in _forms(secret):
                by_form.setdefault(form, name)
        # Longest first: where forms overlap, the longest is the one replaced.
        self._forms = sorted(by_form, key=len, reverse=True)
        self._marker = {f: f"[REDACTED:{by_form[f]}]" for f in self._forms}
        self._bytes_marker = {f.encode(): m.encode() for f, m in self._marker.items()}
        self.longest = max((len(f.encode()) for f in self._forms), default=0)
        self._text = re.compile(_trie([list(f) for f in self._forms])) if self._forms else None
        self._bytes = (
            re.compile(_trie([[bytes([b]) for b in f.encode()] for f in self._forms]).encode())
            if self._forms
            else None
        )

    def __bool__(self) -> bool:
        return self._text is not None

    def redact(self, text: str, *, cut: bool = False) -> str:
        """``text`` with every form replaced; ``cut=True`` when ``text`` was cut off at a read
        limit, so that the beginning of a form at its very end is hidden too."""
        if self._text is None:
            return text
        text = self._text.sub(lambda m: self._marker[m.group(0)], text)
        if cut:
            text = self._hide_tail(text)
        return text

    def _hide_tail(self, text: str) -> str:
        for form in self._forms:
            for size in range(min(len(form) - 1, len(text)), MIN_FRAGMENT - 1, -1):
                if text.endswith(form[:size]):
                    return text[:-size] + self._marker[form]
        return text

    def redact_bytes(self, data: bytes) -> bytes:
        """``data`` with every UTF-8 form replaced."""
        if self._bytes is None:
            return data
        return self._bytes.sub(lambda m: self._bytes_marker[m.group(0)], data)

    def redact_value(self, value: Any) -> Any:
        """A JSON-like value with every string in it redacted (keys too); numbers, booleans
        and None stay as they are; anything else becomes its redacted ``str``."""
        if self._text is None:
            return value
        if isinstance(value, str):
            return self.redact(value)
        if value is None or isinstance(value, bool | int | float):
            return value
        if isinstance(value, Mapping):
            return {self.redact(str(k)): self.redact_value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.redact_value(v) for v in value]
        return self.redact(str(value))

    def redact_error(self, exc: BaseException) -> BaseException:
        """``exc`` with its message redacted and its chain dropped, in place whenever its
        message is its arguments (every ``GovdrillError``); otherwise a RuntimeError with the
        redacted text, to be raised ``from None``."""
        if self._text is None:
            return exc
        text = str(exc)
        clean = self.redact(text)
        if clean == text:
            return exc
        exc.args = (clean,)
        if str(exc) == clean:
            exc.__cause__ = exc.__context__ = None
            return exc
        return RuntimeError(f"{type(exc).__name__}: {clean}")

    def stream(self) -> StreamRedactor:
        """A redactor for bytes arriving in chunks (a pipe, a file read piece by piece)."""
        return StreamRedactor(self)


NO_SECRETS = Redactor()
"""The redactor of a run without secrets: changes nothing."""


class StreamRedactor:
    """Redacts a byte stream chunk by chunk; a form split across two chunks is still caught.

    ``feed`` returns what is safe to write now and holds back the last ``longest - 1`` bytes
    (a form may begin there); ``flush`` returns the rest at the end.
    """

    def __init__(self, redactor: Redactor) -> None:
        self._redactor = redactor
        self._keep = max(redactor.longest - 1, 0)
        self._pending = b""
        self.replaced = False

    def feed(self, chunk: bytes) -> bytes:
        """Take ``chunk``; return the redacted bytes that can no longer be part of a form."""
        if not self._redactor:
            return chunk
        buffer = self._pending + chunk
        cut = len(buffer) - self._keep
        if cut <= 0:
            self._pending = buffer
            return b""
        pattern = self._redactor._bytes
        assert pattern is not None
        for match in pattern.finditer(buffer):
            if match.start() < cut < match.end():
                cut = match.end()  # never split a form that is already whole
            if match.start() >= cut:
                break
        self._pending = buffer[cut:]
        return self._redact(buffer[:cut])

    def flush(self) -> bytes:
        """The bytes still held back, redacted (call once, at the end)."""
        rest, self._pending = self._pending, b""
        return self._redact(rest)

    def _redact(self, data: bytes) -> bytes:
        clean = self._redactor.redact_bytes(data)
        if clean != data:
            self.replaced = True
        return clean


class SecretValues(Mapping[str, str]):
    """The value of every ``${NAME}`` of one run, and the redactor that hides them all."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = dict(values)
        self.redactor = Redactor(self._values)

    def __getitem__(self, name: str) -> str:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:  # never the values, even in a traceback
        return f"SecretValues({sorted(self._values)})"


def redactor_for(values: Mapping[str, str]) -> Redactor:
    """The redactor of ``values``: their own when they are a run's ``SecretValues``."""
    if isinstance(values, SecretValues):
        return values.redactor
    return Redactor(values) if values else NO_SECRETS


# --------------------------------------------------------------------------- run folders

_folders: weakref.WeakValueDictionary[Path, Redactor] = weakref.WeakValueDictionary()
_folders_lock = threading.Lock()


def register(folder: Path, redactor: Redactor) -> None:
    """Redact every file later written under ``folder`` through ``evidence``'s writers (for
    as long as ``redactor`` is alive: the run folder object holds it)."""
    if redactor:
        with _folders_lock:
            _folders[folder.absolute()] = redactor


def redactor_for_path(path: Path) -> Redactor:
    """The redactor of the run folder ``path`` is written into, or NO_SECRETS."""
    if not _folders:
        return NO_SECRETS
    path = path.absolute()
    with _folders_lock:
        for folder in path.parents:
            found = _folders.get(folder)
            if found is not None:
                return found
    return NO_SECRETS


def scrub_folder(folder: Path, redactor: Redactor, *, skip: Iterable[str] = ()) -> list[str]:
    """Rewrite every file under ``folder`` (gzip ones decompressed and recompressed) that holds
    a form of a secret; return the relative names of those rewritten. ``skip`` names files
    redacted as they were written that must not change afterwards (a hash-chained journal)."""
    if not redactor:
        return []
    skipped = set(skip)
    rewritten = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()):
        name = path.relative_to(folder).as_posix()
        if name in skipped or path.name.startswith("."):
            continue
        if _scrub_file(path, redactor):
            rewritten.append(name)
    return rewritten


def _scrub_file(path: Path, redactor: Redactor) -> bool:
    packed = path.suffix == ".gz"
    stream = redactor.stream()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".scrub")
    try:
        with os.fdopen(fd, "wb") as raw:
            out: io.BufferedIOBase = (
                gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) if packed else raw
            )
            source: io.BufferedIOBase = gzip.open(path, "rb") if packed else open(path, "rb")  # noqa: SIM115
            with source, out:
                while chunk := source.read(_CHUNK):
                    out.write(stream.feed(chunk))
                out.write(stream.flush())
        if stream.replaced:
            os.replace(tmp, path)
            return True
        return False
    except (OSError, EOFError, gzip.BadGzipFile):
        # An unreadable file is left as it is; the leak test, not this pass, is the proof.
        return False
    finally:
        Path(tmp).unlink(missing_ok=True)
