"""Fixtures of the `govdrill init` tests: whether this harness knows the issue-14 target
format yet, and a prober/asker pair for plan-level tests."""

from __future__ import annotations

import io

import pytest

from harness.init.arguments import QUESTION_FLAGS
from harness.init.questions import Asker


def contract_missing() -> str:
    """What of the issue-14 target format this harness lacks ('' when it has it all): the
    generated files use the external sandbox, ``version:`` and ``safe_state:``."""
    from harness.sandbox_kind import SandboxKind
    from harness.spec.models import Target

    missing = []
    if "external" not in {k.value for k in SandboxKind}:
        missing.append("the external sandbox (SandboxKind.EXTERNAL)")
    missing += [
        f"target field {f!r}" for f in ("version", "safe_state") if f not in Target.model_fields
    ]
    return ", ".join(missing)


needs_contract = pytest.mark.skipif(
    bool(contract_missing()),
    reason=f"needs the issue-14 target format, not merged yet: {contract_missing()}"
    " (un-skips by itself once h/external and the version/safe_state branch are merged)",
)


def asker(**flags: str) -> Asker:
    """A non-interactive asker answering from ``flags`` (``stop_call='POST /x'``), no defaults."""
    given: dict[str, str | None] = {f: None for f in QUESTION_FLAGS}
    for key, value in flags.items():
        given["--" + key.replace("_", "-")] = value
    return Asker(given, interactive=False, accept_defaults=False, stdin=io.StringIO(),
                 stdout=io.StringIO())  # fmt: skip
