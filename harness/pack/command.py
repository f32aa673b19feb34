"""``govdrill pack``: the command's arguments checked, the pack built, what it holds said.

Exit codes: 0 the pack was written and every run found in the period is in it; 1 the pack
was written, and some folders of the period were excluded (each listed, in the pack and on
stderr, with its reason); 2 bad input (an argument, a key, a folder), nothing written; 3 the
pack could not be written, printed or timestamped, nothing left behind.
"""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from harness.errors import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, EvidenceError, Problem, SpecError
from harness.integrity import choose_signer, load_trust
from harness.pack import build_pack, parse_period

__all__ = ["pack_command"]


def pack_command(args: argparse.Namespace, out: TextIO) -> int:
    """Run ``govdrill pack`` with parsed ``args``; returns the exit code."""
    period = parse_period(args.since, args.until)
    problems = [
        Problem(str(path), None, option, "no such file")
        for option, path in (("--tsa-cert", args.tsa_cert), ("--trust", args.trust))
        if path is not None and not path.is_file()
    ]
    if problems:
        raise SpecError(problems)
    trust = None if args.trust is None else load_trust(args.trust)
    try:
        signer = choose_signer(args.sign_key)
    except EvidenceError as exc:
        print(f"govdrill pack: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if signer is None:
        print(
            "govdrill pack: no signing key (--sign-key or $GOVDRILL_SIGNING_KEY): the pack"
            " manifest is unsigned",
            file=sys.stderr,
        )
    outcome = build_pack(
        args.results,
        period,
        args.out,
        signer=signer,
        pdf=not args.no_pdf,
        tsa_url=args.tsa,
        tsa_cert=args.tsa_cert,
        trust=trust,
    )
    collection = outcome.collection
    for e in collection.excluded:
        print(f"EXCLUDED {e.folder}: {e.reason.value}: {e.detail}", file=sys.stderr)
    print(
        f"pack: {outcome.folder} ({len(collection.included)} runs included,"
        f" {len(collection.excluded)} excluded, {collection.outside} outside the period)",
        file=out,
    )
    if outcome.pdf and not outcome.pdf_dates_pinned:
        print(
            "govdrill pack: the PDF's dates were not in the form expected and were left as"
            " printed; the PDF is not byte-for-byte reproducible",
            file=sys.stderr,
        )
    return EXIT_FAILED if collection.excluded else EXIT_OK
