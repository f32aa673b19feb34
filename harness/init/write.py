"""Write the target file and the drill together or not at all: both are staged in a hidden
folder beside where they go, loaded with the harness's own loader, and only then moved into
place; an existing file is never replaced without ``--force``.

The layout is the one drills find targets by: ``<out>/targets/<name>/target.yaml`` and
``<out>/drills/<name>-stop.yaml`` (a drill's ``target: <name>`` is looked up in
``targets/`` beside and above it).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from harness.errors import EXIT_BAD_INPUT, GovdrillError, SpecError

__all__ = [
    "Existing",
    "Layout",
    "Written",
    "check_with_loader",
    "install",
    "layout_for",
    "refuse_existing",
]


class Existing(GovdrillError):
    """A file init would write is already there and ``--force`` was not given (exit 2)."""

    exit_code = EXIT_BAD_INPUT


@dataclass(frozen=True, slots=True)
class Layout:
    """Where the two files go, relative to an output folder."""

    target: Path
    drill: Path


def layout_for(out: Path, name: str, drill_name: str) -> Layout:
    """The two paths under ``out`` for a target ``name`` and its drill."""
    return Layout(out / "targets" / name / "target.yaml", out / "drills" / f"{drill_name}.yaml")


@dataclass(frozen=True, slots=True)
class Written:
    """The files as they are now in place."""

    target: Path
    drill: Path


def refuse_existing(layout: Layout, *, force: bool) -> None:
    """Existing if either file is already there and ``force`` is not set."""
    there = [p for p in (layout.target, layout.drill) if p.exists() or p.is_symlink()]
    if there and not force:
        raise Existing(
            f"{' and '.join(str(p) for p in there)} already exist(s); pass --force to replace,"
            " or --out DIR / --name NAME to write elsewhere"
        )


def install(
    out: Path,
    layout: Layout,
    target_text: str,
    drill_text: str,
    *,
    force: bool,
    check: Callable[[Path, Path], None],
) -> Written:
    """Stage both files under ``out``, ``check(drill, targets_dir)`` them (it raises
    SpecError), then move both into place; on any failure nothing new is left behind."""
    refuse_existing(layout, force=force)
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out, prefix=".govdrill-init-"))
    placed = False
    try:
        staged_target = staging / layout.target.relative_to(out)
        staged_drill = staging / layout.drill.relative_to(out)
        _write(staged_target, target_text)
        _write(staged_drill, drill_text)
        try:
            check(staged_drill, staging / "targets")
        except SpecError as exc:  # name the files as they would have been, not the staging
            raise SpecError(
                [replace(p, file=p.file.replace(str(staging), str(out))) for p in exc.problems]
            ) from None
        _move_both(
            [(staged_target, layout.target), (staged_drill, layout.drill)], staging, force=force
        )
        placed = True
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if created and not placed:
            with contextlib.suppress(OSError):
                out.rmdir()  # only when still empty
    return Written(layout.target, layout.drill)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("x", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def _move_both(moves: list[tuple[Path, Path]], staging: Path, *, force: bool) -> None:
    """Move each staged file to its place; undo the earlier moves if a later one fails."""
    done: list[tuple[Path, Path | None]] = []
    try:
        for i, (staged, final) in enumerate(moves):
            final.parent.mkdir(parents=True, exist_ok=True)
            backup: Path | None = None
            if force and (final.exists() or final.is_symlink()):
                backup = staging / f"replaced-{i}"
                os.replace(final, backup)
            try:
                # link: fails if the name appeared meanwhile, never clobbers what it did not check
                os.link(staged, final)
            except BaseException:
                if backup is not None:
                    os.replace(backup, final)
                raise
            done.append((final, backup))
    except BaseException:
        for final, backup in reversed(done):
            with contextlib.suppress(OSError):
                if backup is not None:
                    os.replace(backup, final)
                else:
                    final.unlink()
        raise


def check_with_loader(drill: Path, targets_dir: Path) -> None:
    """Load the staged drill, and through it the staged target, with the harness's own
    loader (the staged targets folder first); SpecError when either does not validate."""
    from harness.spec import load_drill

    load_drill(drill, targets_dirs=[targets_dir])
