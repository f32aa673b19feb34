"""Release a model version to a running KServe server: name it in the release file, then ask
KServe to (re)load the model through its V2 repository API.

``deploy.py --release-file F --url http://127.0.0.1:8080 --model sentiment v2`` exits 0 when
KServe answered the load with 200, 1 otherwise (its answer on stderr). With ``--no-load`` it
only names the version, for the next load (after an unload, the runbook's resume). Standard
library only, so any Python runs it.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import urllib.error
import urllib.request
from pathlib import Path


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--release-file", type=Path, required=True)
    parser.add_argument("--url", default=os.environ.get("GOVDRILL_TARGET_URL"), required=False)
    parser.add_argument("--model", default="sentiment")
    parser.add_argument("--timeout", type=float, default=20.0)
    parser.add_argument("--no-load", action="store_true", help="only write the release file")
    parser.add_argument("version")
    options = parser.parse_args(argv)
    if not options.url:
        parser.error("--url is required (or GOVDRILL_TARGET_URL)")
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", options.version):
        parser.error(f"not a version name: {options.version!r}")
    # Written aside and renamed: the server never reads half a release file.
    staged = options.release_file.with_name(options.release_file.name + ".staged")
    staged.write_text(options.version + "\n")
    os.replace(staged, options.release_file)
    if options.no_load:
        print(f"staged {options.model} {options.version} for the next load")
        return 0
    url = f"{options.url.rstrip('/')}/v2/repository/models/{options.model}/load"
    request = urllib.request.Request(url, method="POST", data=b"")
    try:
        with urllib.request.urlopen(request, timeout=options.timeout) as answer:
            body = answer.read(2000).decode(errors="replace")
    except urllib.error.HTTPError as exc:
        body = exc.read(2000).decode(errors="replace")
        print(f"load of {options.model} {options.version}: HTTP {exc.code} {body}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"load of {options.model} {options.version}: {exc}", file=sys.stderr)
        return 1
    print(f"released {options.model} {options.version}: {body}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
