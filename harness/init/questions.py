"""The questions `govdrill init` may ask: each has a flag that answers it; it is asked only
on a terminal, and otherwise its absence is bad input naming the flag."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

from harness.errors import EXIT_BAD_INPUT, GovdrillError

__all__ = ["Asker", "BadAnswer", "Question"]


class BadAnswer(GovdrillError):
    """A question had no usable answer (no flag, no terminal, no default accepted), or an
    answer, the URL included, does not parse (exit 2)."""

    exit_code = EXIT_BAD_INPUT


@dataclass(frozen=True, slots=True)
class Question:
    """One question: the flag that answers it, what to ask, and the default (None: none)."""

    flag: str
    prompt: str
    default: str | None = None
    check: Callable[[str], str] | None = None
    """Returns a problem with an answer ('' when it is fine)."""


class Asker:
    """Answers questions from flags, then a terminal, then (with ``--yes``) defaults."""

    def __init__(
        self,
        flags: dict[str, str | None],
        *,
        interactive: bool,
        accept_defaults: bool,
        stdin: TextIO,
        stdout: TextIO,
    ) -> None:
        self._flags = flags
        self._interactive = interactive
        self._accept_defaults = accept_defaults
        self._stdin = stdin
        self._stdout = stdout

    def given(self, flag: str) -> bool:
        """Whether the command line answered the question of ``flag``."""
        return self._flags.get(flag) is not None

    def answer(self, question: Question) -> str:
        """The answer: the flag's value, the user's, or the default; BadAnswer if none."""
        given = self._flags.get(question.flag)
        if given is not None:
            problem = question.check(given) if question.check else ""
            if problem:
                raise BadAnswer(f"{question.flag} {given!r}: {problem}")
            return given
        if self._interactive:
            return self._ask(question)
        if question.default is not None and self._accept_defaults:
            return question.default
        hint = (
            f", or --yes to accept the default ({question.default or 'none'})"
            if question.default is not None
            else ""
        )
        raise BadAnswer(
            f"{question.prompt}: pass {question.flag}{hint} (stdin is not a terminal, so"
            " nothing is asked)"
        )

    def _ask(self, question: Question) -> str:
        shown = f" [{question.default or 'none'}]" if question.default is not None else ""
        while True:
            self._stdout.write(f"{question.prompt} ({question.flag}){shown}: ")
            self._stdout.flush()
            line = self._stdin.readline()
            if not line:  # end of input: the user walked away
                raise BadAnswer(f"{question.prompt}: no answer (pass {question.flag})")
            reply = line.strip()
            if not reply:
                if question.default is not None:
                    return question.default
                continue
            problem = question.check(reply) if question.check else ""
            if not problem:
                return reply
            self._stdout.write(f"  {problem}\n")
