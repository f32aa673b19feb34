"""``govdrill init URL``: check the URL, recognise the service, ask what is missing, write
both files, and tell the user what was recognised and what is still theirs to do."""

from __future__ import annotations

import argparse
import sys
from typing import TextIO
from urllib.parse import urlsplit

from harness.errors import EXIT_BAD_INPUT, EXIT_OK, SpecError
from harness.init.arguments import QUESTION_FLAGS
from harness.init.control_auth import parse_control_auth
from harness.init.plan import DRILL_SUFFIX, build_plan, target_name
from harness.init.probe import Prober
from harness.init.questions import Asker, BadAnswer
from harness.init.recognise import ServiceKind, detect_kind
from harness.init.render import drill_text, target_text
from harness.init.write import check_with_loader, install, layout_for, refuse_existing
from harness.spec.loader import is_loopback_url
from harness.spec.urls import check_base_url

__all__ = ["run_init"]


def run_init(
    args: argparse.Namespace,
    out: TextIO,
    *,
    stdin: TextIO | None = None,
    prompt: TextIO | None = None,
) -> int:
    """Run ``govdrill init`` with parsed ``args``; the exit code."""
    stdin = sys.stdin if stdin is None else stdin
    prompt = sys.stderr if prompt is None else prompt
    url = str(args.url).rstrip("/")
    try:
        check_base_url(url)
    except ValueError as exc:
        raise BadAnswer(f"URL {_shown(url)!r}: {exc}") from None
    path = urlsplit(url).path
    if path:  # the external sandbox attaches to a root; paths go in the drill and target
        raise BadAnswer(
            f"URL {_shown(url)!r}: give the service's root without a path (got {path[:80]!r})"
        )
    if not args.allow_remote and not is_loopback_url(url):
        raise BadAnswer(
            f"{url} is not on this machine; pass --allow-remote to probe and drill it"
            " (the target's external sandbox will say allow_remote: true)"
        )
    if args.timeout <= 0:
        raise BadAnswer("--timeout must be a positive number of seconds")
    auth = parse_control_auth(args.control_header, args.secret)
    if args.name is not None:  # known before probing: refuse before touching the service
        name = target_name(args.name)
        refuse_existing(layout_for(args.out, name, name + DRILL_SUFFIX), force=args.force)
    flags = {flag: getattr(args, flag[2:].replace("-", "_")) for flag in QUESTION_FLAGS}
    asker = Asker(
        flags,
        interactive=_is_terminal(stdin),
        accept_defaults=args.yes,
        stdin=stdin,
        stdout=prompt,
    )
    prober = Prober(url, timeout_s=args.timeout)
    if args.kind is not None:
        kind, detected = ServiceKind(args.kind), "chosen with --kind"
    else:
        kind, detected = detect_kind(prober)
    plan = build_plan(
        kind, detected, base_url=url, allow_remote=args.allow_remote, prober=prober,
        asker=asker, name=args.name, auth=auth,
    )  # fmt: skip
    layout = layout_for(args.out, plan.name, plan.drill_name)
    try:
        written = install(
            args.out, layout, target_text(plan), drill_text(plan), force=args.force,
            check=check_with_loader,
        )  # fmt: skip
    except SpecError as exc:
        print(
            "govdrill init: the generated files do not validate, so nothing was written:",
            file=sys.stderr,
        )
        print(exc, file=sys.stderr)
        return EXIT_BAD_INPUT
    print("recognised:", file=out)
    for line in plan.facts.recognised:
        print(f"  {line}", file=out)
    print(f"wrote {written.target}\nwrote {written.drill}", file=out)
    print("still yours to do:", file=out)
    for line in plan.facts.todo:
        print(f"  - {line}", file=out)
    print(
        "  - the drill has no harm rule: add one under harm: for what a bad answer of this"
        " service looks like, and a step that stops `when: harm_detected`",
        file=out,
    )
    print(f"next: govdrill validate {written.drill} && govdrill run {written.drill}", file=out)
    return EXIT_OK


def _shown(url: str) -> str:
    """``url`` without any user or password in it (a URL is not where they are echoed)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(not a URL)"
    if "@" not in parts.netloc:
        return url
    return parts._replace(netloc="…@" + parts.netloc.rpartition("@")[2]).geturl()


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or unusual stream is not a terminal
        return False
