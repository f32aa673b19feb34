"""Make the cached venv each real model server target runs in, and link it as ``.venv``.

A target that runs a server from the package index (``targets/<name>/requirements.txt``, every
version pinned) runs it from ``targets/<name>/.venv/bin/python``. That ``.venv`` is a symlink
(gitignored) to ``$GOVDRILL_VENV_CACHE/<name>-<key>`` (default ``/var/cache/govdrill/venvs``),
where ``<key>`` is the first 12 hex digits of the SHA-256 of the requirements file and the
interpreter's version: change either and the next call builds a new venv, while an unchanged
one is reused as it is, so CI pays for the install once per machine.

A venv is built in a folder of its own and renamed into place when pip succeeded, under a lock,
so a half-built venv is never linked and two callers never build the same one.

Usage: ``python3 targets/venvs.py [NAME...]`` (default: every target with a requirements.txt).
Exit 0 when every venv is in place, 1 when an install failed (pip's output on stderr).
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

TARGETS = Path(__file__).resolve().parent
CACHE_ENV = "GOVDRILL_VENV_CACHE"
DEFAULT_CACHE = Path("/var/cache/govdrill/venvs")


@dataclass(frozen=True, slots=True)
class VenvPlace:
    """Where one target's venv lives in the cache, and the link the target runs it by."""

    target: str
    requirements: Path
    cached: Path
    link: Path

    @property
    def python(self) -> Path:
        """The interpreter the target's commands name as ``{target_dir}/.venv/bin/python``."""
        return self.link / "bin" / "python"


def cache_root() -> Path:
    """The folder of cached venvs: ``$GOVDRILL_VENV_CACHE``, else /var/cache/govdrill/venvs."""
    return Path(os.environ.get(CACHE_ENV) or DEFAULT_CACHE)


def place_of(target: str, root: Path | None = None, targets: Path = TARGETS) -> VenvPlace:
    """The cache folder and link of ``target``'s venv (whether built or not)."""
    requirements = targets / target / "requirements.txt"
    digest = hashlib.sha256(requirements.read_bytes())
    # A venv is bound to the interpreter that made it.
    digest.update(f"\0python {sys.version_info.major}.{sys.version_info.minor}".encode())
    cached = (root or cache_root()) / f"{target}-{digest.hexdigest()[:12]}"
    return VenvPlace(target, requirements, cached, targets / target / ".venv")


def server_targets() -> list[str]:
    """Every target that installs a server from the package index."""
    return sorted(p.parent.name for p in TARGETS.glob("*/requirements.txt"))


def ready(place: VenvPlace) -> bool:
    """Whether the venv is built and the target's link points at it."""
    return place.python.exists() and place.link.resolve() == place.cached.resolve()


def ensure(place: VenvPlace) -> float | None:
    """Build ``place``'s venv unless cached, then link it; the build's seconds, None if cached."""
    place.cached.parent.mkdir(parents=True, exist_ok=True)
    took = None
    lock_path = place.cached.parent / f".{place.cached.name}.lock"
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another build of the same venv finishes first
        if not (place.cached / "bin" / "python").exists():
            took = _build(place)
    _link(place)
    return took


def _build(place: VenvPlace) -> float:
    began = time.monotonic()
    building = place.cached.with_name(f".{place.cached.name}.building-{os.getpid()}")
    shutil.rmtree(building, ignore_errors=True)
    try:
        subprocess.run([sys.executable, "-m", "venv", str(building)], check=True)
        subprocess.run(
            [
                str(building / "bin" / "python"),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--no-input",
                "--only-binary",
                ":all:",
                "--requirement",
                str(place.requirements),
            ],
            check=True,
        )
        # The scripts in bin/ (pip, ...) name the folder they were made in and break with the
        # rename; bin/python, a link to the interpreter, is all a target runs.
        os.rename(building, place.cached)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    return time.monotonic() - began


def _link(place: VenvPlace) -> None:
    if place.link.is_symlink() and os.readlink(place.link) == str(place.cached):
        return
    if place.link.exists() and not place.link.is_symlink():
        raise SystemExit(f"{place.link} is a real folder, not a link; remove it to use the cache")
    staged = place.link.with_name(f".venv.link-{os.getpid()}")
    staged.unlink(missing_ok=True)
    staged.symlink_to(place.cached, target_is_directory=True)
    os.replace(staged, place.link)  # atomic: the link is always whole


def _size_mb(folder: Path) -> float:
    total = sum(p.lstat().st_size for p in folder.rglob("*") if not p.is_symlink())
    return total / 1e6


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("targets", nargs="*", help="target names (default: all with a venv)")
    options = parser.parse_args(argv)
    names = options.targets or server_targets()
    unknown = [n for n in names if not (TARGETS / n / "requirements.txt").is_file()]
    if unknown:
        parser.error(f"no targets/<name>/requirements.txt for: {', '.join(unknown)}")
    for name in names:
        place = place_of(name)
        try:
            took = ensure(place)
        except subprocess.CalledProcessError as exc:
            print(f"{name}: venv build failed ({exc})", file=sys.stderr)
            return 1
        how = "cached" if took is None else f"built in {took:.1f}s"
        print(f"venv {name}: {how}, {_size_mb(place.cached):.0f} MB at {place.cached}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
