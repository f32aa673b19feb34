"""Release a model version to a running LitServe server by naming it in its release file.

``deploy.py --release-file F v2`` writes the file whole (aside, then renamed); the inference
worker switches before its next answer. ``latest`` names the newest version in the models
folder: the rollback defect of drills/defects/litserve-rollback-to-latest.yaml, which
"rolls back" by redeploying the newest release, the bad one. Standard library only.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

MODELS = Path(__file__).resolve().parent / "models" / "sentiment"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--release-file", type=Path, required=True)
    parser.add_argument("--models", type=Path, default=MODELS)
    parser.add_argument("version", help="a version name, or latest")
    options = parser.parse_args(argv)
    version = options.version
    if version == "latest":
        version = max(p.stem for p in options.models.glob("*.json"))
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", version):
        parser.error(f"not a version name: {version!r}")
    if not (options.models / f"{version}.json").is_file():
        print(f"no model version {version} in {options.models}", file=sys.stderr)
        return 1
    staged = options.release_file.with_name(options.release_file.name + ".staged")
    staged.write_text(version + "\n")
    os.replace(staged, options.release_file)
    print(f"released sentiment {version}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
