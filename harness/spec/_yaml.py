"""Safe YAML loading that remembers the line of every key and value, within bounded cost."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from harness.errors import Problem, SpecError

__all__ = ["MAX_DEPTH", "MAX_FILE_BYTES", "MAX_NODES", "Located", "load_located", "parse_located"]

MAX_FILE_BYTES = 256 * 1024
"""Drill and target files are small; anything larger is refused before parsing."""

_COMPOSER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's composer when PyYAML has it (about 5x faster on large input), else pure Python."""

MAX_NODES = 100_000
"""Bound on nodes after alias expansion, so an alias bomb fails fast instead of eating memory."""

MAX_DEPTH = 64
"""Bound on nesting: a drill is a few levels deep; thousands would crash the composer (a
segfault in libyaml's, a RecursionError in ours) instead of failing cleanly."""

_OPENS = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
_CLOSES = (yaml.MappingEndEvent, yaml.SequenceEndEvent)

Path_ = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Located:
    """Plain data from a YAML file plus the 1-based line of every path in it."""

    data: Any
    file: str
    lines: dict[Path_, int] = field(default_factory=dict)

    def line_of(self, path: Path_) -> int | None:
        """Return the line of ``path`` or of its nearest located ancestor."""
        for cut in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:cut]))
            if line is not None:
                return line
        return None


class _Builder:
    """Turns a composed node tree into plain data, recording lines and counting nodes."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.lines: dict[Path_, int] = {}
        self.nodes = 0
        # Scalars are resolved by the safe loader's own tag rules (ints, bools, nulls...).
        self._scalars = yaml.SafeLoader("")

    def build(self, node: yaml.Node, path: Path_) -> Any:
        self.nodes += 1
        if len(path) > MAX_DEPTH * 2:  # a recursive alias (&a [*a]) nests without end
            raise SpecError([Problem(self.file, node.start_mark.line + 1, "", _too_deep())])
        if self.nodes > MAX_NODES:
            raise SpecError(
                [
                    Problem(
                        self.file,
                        node.start_mark.line + 1,
                        "",
                        f"document expands to more than {MAX_NODES} nodes (alias bomb?)",
                    )
                ]
            )
        self.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = self.build(key_node, (*path, "<key>"))
                if not isinstance(key, str):
                    hint = (
                        " (YAML reads unquoted on/off/yes/no as booleans; quote it)"
                        if isinstance(key, bool)
                        else ""
                    )
                    raise SpecError(
                        [
                            Problem(
                                self.file,
                                key_node.start_mark.line + 1,
                                _dotted(path),
                                f"key {key_node.value!r} must be a string{hint}",
                            )
                        ]
                    )
                if key in out:
                    raise SpecError(
                        [
                            Problem(
                                self.file,
                                key_node.start_mark.line + 1,
                                _dotted((*path, str(key))),
                                "duplicate key",
                            )
                        ]
                    )
                self.lines[(*path, str(key))] = key_node.start_mark.line + 1
                out[key] = self.build(value_node, (*path, str(key)))
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        return self._scalars.construct_object(node, deep=True)


def _dotted(path: Path_) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out


def _too_deep() -> str:
    return f"document nests deeper than {MAX_DEPTH} levels"


def _check_depth(text: str, file: str) -> None:
    """Refuse deep nesting from the event stream, before anything recursive sees it; stops
    at the first level too many, so the cost is bounded by the document's first part."""
    depth = 0
    for event in yaml.parse(text, Loader=_COMPOSER):
        if isinstance(event, _OPENS):
            depth += 1
            if depth > MAX_DEPTH:
                line = event.start_mark.line + 1 if event.start_mark is not None else None
                raise SpecError([Problem(file, line, "", _too_deep())])
        elif isinstance(event, _CLOSES):
            depth -= 1


def parse_located(text: str, file: str) -> Located:
    """Parse one YAML document from text; raises SpecError naming the file and line."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_FILE_BYTES:
        raise SpecError([Problem(file, None, "", f"file is larger than {MAX_FILE_BYTES} bytes")])
    try:
        _check_depth(text, file)
        node = yaml.compose(text, Loader=_COMPOSER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        message = " ".join(str(p) for p in (exc.context, exc.problem) if p)
        raise SpecError([Problem(file, line, "", f"invalid YAML: {message}")]) from None
    except yaml.YAMLError as exc:
        raise SpecError([Problem(file, None, "", f"invalid YAML: {exc}")]) from None
    if node is None:
        raise SpecError([Problem(file, 1, "", "file is empty")])
    builder = _Builder(file)
    try:
        data = builder.build(node, ())
    except (yaml.YAMLError, ValueError) as exc:  # ValueError: an int of over 4300 digits
        raise SpecError([Problem(file, None, "", f"invalid YAML value: {exc}")]) from None
    return Located(data=data, file=file, lines=builder.lines)


def load_located(path: Path) -> Located:
    """Read and parse a YAML file; a missing or unreadable file is a SpecError too."""
    file = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise SpecError(
                [Problem(file, None, "", f"file is larger than {MAX_FILE_BYTES} bytes")]
            )
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError([Problem(file, None, "", "no such file")]) from None
    except IsADirectoryError:
        raise SpecError([Problem(file, None, "", "is a directory, not a YAML file")]) from None
    except UnicodeDecodeError as exc:
        raise SpecError([Problem(file, None, "", f"not UTF-8 text: {exc.reason}")]) from None
    except OSError as exc:
        raise SpecError([Problem(file, None, "", f"cannot read: {exc.strerror}")]) from None
    return parse_located(text, file)
