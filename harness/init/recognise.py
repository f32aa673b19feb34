"""What kind of service answers at a URL, learned from read-only probes: the V2 inference
protocol, an OpenAI-compatible API, or plain HTTP; and what it says about its models.

Every name the service gives is hostile: only strings of bounded length are kept, at most
:data:`MAX_MODELS` of them, and they are percent-encoded wherever they go into a URL path.
"""

from __future__ import annotations

import enum
import re
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from harness.errors import EXIT_BAD_INPUT, GovdrillError
from harness.init.probe import ProbeAnswer, Prober

__all__ = [
    "MAX_MODELS",
    "MAX_NAME_CHARS",
    "ServiceKind",
    "Stopped",
    "Unreachable",
    "V2Input",
    "detect_kind",
    "infer_body",
    "model_path",
    "openai_models",
    "ready_path_guess",
    "stopped_answer",
    "v2_inputs",
    "v2_models",
    "version_from_answer",
]

MAX_MODELS = 100
MAX_NAME_CHARS = 200
MAX_TENSOR_ELEMENTS = 1024
"""The largest input tensor init will fill in by itself; a bigger one is the user's to write."""

_REGEX_SPECIAL = re.compile(r"[.^$*+?{}\[\]\\|()]")
"""What a regex reads as syntax; escaping only these keeps the written pattern readable."""
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_READY_GUESSES = ("/readyz", "/healthz", "/health", "/ready", "/")


class Unreachable(GovdrillError):
    """Nothing answered HTTP at the URL (exit 2: the URL is the user's input)."""

    exit_code = EXIT_BAD_INPUT


class ServiceKind(enum.StrEnum):
    """The protocols init recognises."""

    @property
    def label(self) -> str:
        """How a sentence names the protocol."""
        return _LABELS[self]

    V2 = "v2"
    """The V2 (Open Inference) protocol: KServe, Triton, MLServer and others."""
    OPENAI = "openai"
    """An OpenAI-compatible chat completions API."""
    PLAIN = "plain"
    """Anything else spoken over HTTP: the user names the paths."""


_LABELS = {
    ServiceKind.V2: "the V2 inference protocol",
    ServiceKind.OPENAI: "an OpenAI-compatible API",
    ServiceKind.PLAIN: "plain HTTP",
}


def detect_kind(prober: Prober) -> tuple[ServiceKind, str]:
    """The service's kind and the evidence for it, as one line for the user."""
    ready = prober.get("/v2/health/ready")
    if ready.status == 0:
        raise Unreachable(f"no answer from {prober.base_url}: {ready.failure}")
    if ready.ok and (not ready.body or isinstance(ready.json(), dict)):
        return ServiceKind.V2, "GET /v2/health/ready answered " + str(ready.status)
    meta = prober.get("/v2").json()
    if isinstance(meta, dict) and isinstance(meta.get("extensions", meta.get("name")), list | str):
        return ServiceKind.V2, "GET /v2 answered V2 server metadata"
    if openai_models(prober.get("/v1/models")):
        return ServiceKind.OPENAI, "GET /v1/models listed models in the OpenAI shape"
    chat = prober.post("/v1/chat/completions", chat_body("govdrill-probe"))
    body = chat.json()
    if chat.ok and isinstance(body, dict) and isinstance(body.get("choices"), list):
        return ServiceKind.OPENAI, "POST /v1/chat/completions answered a chat completion"
    return ServiceKind.PLAIN, "neither the V2 protocol nor an OpenAI-compatible API answered"


def chat_body(model: str) -> dict[str, Any]:
    """A small chat completion request for ``model``."""
    return {
        "model": model,
        "messages": [{"role": "user", "content": "Say hello in one word."}],
        "max_tokens": 8,
    }


def openai_models(answer: ProbeAnswer) -> list[str]:
    """The model ids of an OpenAI ``GET /v1/models`` answer (``{"data": [{"id": ...}]}``)."""
    body = answer.json()
    if not answer.ok or not isinstance(body, dict) or not isinstance(body.get("data"), list):
        return []
    return _names(item.get("id") for item in body["data"] if isinstance(item, dict))


def v2_models(prober: Prober) -> tuple[list[str], bool]:
    """The models a V2 server lists, ready ones first, and whether the repository index
    (the extension with load and unload) answered; KServe's V1 ``/v1/models`` list is the
    fallback when it did not."""
    index = prober.post("/v2/repository/index", {})
    body = index.json()
    if index.ok and isinstance(body, list):
        entries = [e for e in body if isinstance(e, dict)]
        ready = [e.get("name") for e in entries if str(e.get("state", "")).upper() == "READY"]
        rest = [e.get("name") for e in entries if str(e.get("state", "")).upper() != "READY"]
        return _names([*ready, *rest]), True
    listed = prober.get("/v1/models").json()
    if isinstance(listed, dict) and isinstance(listed.get("models"), list):
        return _names(listed["models"]), False
    return [], False


def _names(values: Any) -> list[str]:
    """Distinct non-empty strings of bounded length, in order, at most MAX_MODELS."""
    out: list[str] = []
    for value in values:
        if isinstance(value, str) and 0 < len(value) <= MAX_NAME_CHARS and value not in out:
            out.append(value)
        if len(out) == MAX_MODELS:
            break
    return out


def model_path(model: str, suffix: str = "") -> str:
    """``/v2/models/<model><suffix>``, the name percent-encoded (a name is never a path)."""
    return f"/v2/models/{quote(model, safe='')}{suffix}"


@dataclass(frozen=True, slots=True)
class V2Input:
    """One input tensor a V2 model declares."""

    name: str
    datatype: str
    shape: tuple[int, ...]


def v2_inputs(answer: ProbeAnswer) -> list[V2Input] | None:
    """The inputs of a model's V2 metadata, or None when they are missing or malformed."""
    body = answer.json()
    if not answer.ok or not isinstance(body, dict) or not isinstance(body.get("inputs"), list):
        return None
    inputs = []
    for item in body["inputs"][:MAX_MODELS]:
        if not isinstance(item, dict):
            return None
        name, datatype, shape = item.get("name"), item.get("datatype"), item.get("shape")
        if not (isinstance(name, str) and 0 < len(name) <= MAX_NAME_CHARS):
            return None
        if not isinstance(datatype, str) or not isinstance(shape, list) or len(shape) > 8:
            return None
        if not all(isinstance(d, int) and not isinstance(d, bool) for d in shape):
            return None
        inputs.append(V2Input(name, datatype.upper(), tuple(shape)))
    return inputs or None


_FILL: dict[str, Any] = {
    "BOOL": True,
    "BYTES": "govdrill",
    **{f"{sign}INT{bits}": 1 for sign in ("", "U") for bits in (8, 16, 32, 64)},
    **{f"FP{bits}": 0.5 for bits in (16, 32, 64)},
}


def infer_body(inputs: list[V2Input]) -> dict[str, Any] | None:
    """A V2 infer request with one small tensor per input (a dynamic dimension as 1), or
    None when an input has a datatype init does not know or too many elements."""
    tensors = []
    for tensor in inputs:
        fill = _FILL.get(tensor.datatype)
        shape = [1 if d < 0 else d for d in tensor.shape] or [1]
        count = 1
        for d in shape:
            count *= d
        if fill is None or count > MAX_TENSOR_ELEMENTS:
            return None
        tensors.append(
            {
                "name": tensor.name,
                "shape": shape,
                "datatype": tensor.datatype,
                "data": [fill] * count,
            }
        )
    return {"inputs": tensors}


@dataclass(frozen=True, slots=True)
class Stopped:
    """What the service answers for a model it does not serve, as a safe state can say it."""

    status: int
    json_path: str | None = None
    regex: str | None = None
    message: str = ""
    """The observed message, cut short, for the user to compare."""


def stopped_answer(prober: Prober, body: dict[str, Any]) -> Stopped | None:
    """Send ``body`` to a model name that cannot exist and learn how the service says "no
    such model": the status, and the member of a JSON body whose text names it. None when it
    answered 2xx or not at all (nothing to learn)."""
    missing = f"govdrill-missing-{secrets.token_hex(4)}"
    answer = prober.post(model_path(missing, "/infer"), body)
    if answer.status < 400:
        return None
    data = answer.json()
    if not isinstance(data, dict):
        return Stopped(answer.status)
    for key, value in list(data.items())[:32]:
        if isinstance(key, str) and isinstance(value, str) and value.strip():
            regex = _stable_fragment(value, missing)
            if regex:
                return Stopped(answer.status, _member_path(key), regex, value[:160])
    return Stopped(answer.status)


def _stable_fragment(message: str, missing: str) -> str | None:
    """A regex for the longest part of ``message`` around the probe's model name (the part
    that reads the same for any model), or None when nothing useful remains."""
    parts = [p.strip(" '\"`") for p in message[:500].split(missing)]
    longest = max(parts, key=len).strip()[:120]
    if len(longest) < 4:
        return None
    return _REGEX_SPECIAL.sub(r"\\\g<0>", longest)


def _member_path(key: str) -> str:
    """A JSON path to the top-level member ``key``, quoted when it is not an identifier."""
    if _IDENTIFIER.fullmatch(key):
        return f"$.{key}"
    escaped = key.replace("\\", "\\\\").replace("'", "\\'")
    return f"$['{escaped}']"


def version_from_answer(answer: ProbeAnswer, json_keys: tuple[str, ...]) -> tuple[str, str] | None:
    """Where a served answer names its version: ``("header", name)`` for a version header,
    ``("json_path", path)`` for a top-level member among ``json_keys``; None when neither."""
    for key, _ in answer.headers:
        if key.lower() in ("x-model-version", "x-version", "model-version"):
            return "header", key
    body = answer.json()
    if isinstance(body, dict):
        for key in json_keys:
            value = body.get(key)
            if isinstance(value, str | int) and not isinstance(value, bool) and str(value):
                return "json_path", _member_path(key)
    return None


def ready_path_guess(prober: Prober) -> str | None:
    """The first of the usual readiness paths that answers ``GET`` with a 2xx, if any."""
    for path in _READY_GUESSES:
        if prober.get(path).ok:
            return path
    return None
