"""A word-level trigram text generator and the two model versions the service can serve."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "CANARY_PATTERN",
    "DEFAULT_CORPUS",
    "KNOWN_VERSIONS",
    "ModelVersion",
    "TrigramModel",
    "build_versions",
    "make_canary",
]

DEFAULT_CORPUS = Path(__file__).resolve().parent.parent / "data" / "lighthouse.txt"
KNOWN_VERSIONS = ("v1", "v2")
CANARY_PATTERN = re.compile(r"CANARY-[0-9a-f]{8}")

_TOKEN = re.compile(r"[A-Za-z']+|[.,;:!?]")
_NO_SPACE_BEFORE = frozenset(".,;:!?")
_SENTENCE_END = frozenset(".!?")

# One generator for the whole process: its methods are C calls, atomic under the GIL.
_rng = random.Random()


def make_canary() -> str:
    """Return a fresh leaked-secret marker, ``CANARY-`` and 8 lowercase hex digits."""
    return f"CANARY-{_rng.getrandbits(32):08x}"


class TrigramModel:
    """Next-word tables keyed by the two previous words, trained once from a text."""

    def __init__(self, text: str) -> None:
        words = [w.lower() if w not in _NO_SPACE_BEFORE else w for w in _TOKEN.findall(text)]
        if len(words) < 3:
            raise ValueError("the training text needs at least three words")
        table: dict[tuple[str, str], list[str]] = {}
        for first, second, third in zip(words, words[1:], words[2:], strict=False):
            table.setdefault((first, second), []).append(third)
        # Tuples make random.choice cheap and the tables read-only once trained.
        self._next: dict[tuple[str, str], tuple[str, ...]] = {
            key: tuple(values) for key, values in table.items()
        }
        self._by_last: dict[str, tuple[tuple[str, str], ...]] = {}
        grouped: dict[str, list[tuple[str, str]]] = {}
        for key in self._next:
            grouped.setdefault(key[1], []).append(key)
        self._by_last = {word: tuple(keys) for word, keys in grouped.items()}
        self._starts = tuple(key for key in self._next if key[0] == ".")
        self.vocabulary_size = len(set(words))

    def generate(self, prompt: str, max_tokens: int) -> list[str]:
        """Return up to ``max_tokens`` words continuing ``prompt``."""
        state = self._seed(prompt)
        out: list[str] = []
        choice = _rng.choice
        following = self._next
        for _ in range(max_tokens):
            options = following.get(state)
            if options is None:
                state = choice(self._starts)
                options = following[state]
            word = choice(options)
            out.append(word)
            state = (state[1], word)
        return out

    def _seed(self, prompt: str) -> tuple[str, str]:
        words = [w.lower() for w in _TOKEN.findall(prompt[-200:])]
        if len(words) >= 2 and (words[-2], words[-1]) in self._next:
            return (words[-2], words[-1])
        if words and words[-1] in self._by_last:
            return _rng.choice(self._by_last[words[-1]])
        return _rng.choice(self._starts)


def detokenize(words: list[str]) -> str:
    """Join words into text: no space before punctuation, sentences capitalised."""
    return "".join(detokenized_pieces(words))


def detokenized_pieces(words: list[str]) -> list[str]:
    """One piece per word, which joined make :func:`detokenize`'s text (a stream's tokens)."""
    pieces: list[str] = []
    sentence_start = True
    for word in words:
        space = " " if pieces and word not in _NO_SPACE_BEFORE else ""
        pieces.append(space + (word[:1].upper() + word[1:] if sentence_start else word))
        sentence_start = word in _SENTENCE_END
    return pieces


@dataclass(frozen=True, slots=True)
class ModelVersion:
    """One servable release: a name, the trained model, and its own canary leak rate."""

    name: str
    model: TrigramModel
    canary_rate: float

    def complete(self, prompt: str, max_tokens: int, extra_leak_rate: float) -> str:
        """Generate a completion; leaks a canary at this version's rate or the incident's."""
        words = self.model.generate(prompt, max_tokens)
        roll = _rng.random()
        if roll < self.canary_rate or roll < extra_leak_rate:
            words.insert(_rng.randrange(len(words) + 1), make_canary())
        return detokenize(words)

    def stream_tokens(self, prompt: str, max_tokens: int, extra_leak_rate: float) -> list[str]:
        """The tokens of a streamed completion, each with its leading space; a leak puts the
        canary mid-stream (its own token, halfway through)."""
        words = self.model.generate(prompt, max_tokens)
        roll = _rng.random()
        if roll < self.canary_rate or roll < extra_leak_rate:
            words.insert(len(words) // 2, make_canary())
        return detokenized_pieces(words)


def build_versions(corpus: Path, v2_canary_rate: float) -> dict[str, ModelVersion]:
    """Train the model once and return the sound ``v1`` and the leaking ``v2`` releases."""
    model = TrigramModel(corpus.read_text(encoding="utf-8"))
    return {
        "v1": ModelVersion("v1", model, 0.0),
        "v2": ModelVersion("v2", model, v2_canary_rate),
    }
