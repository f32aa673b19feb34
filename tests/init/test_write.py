"""`govdrill init` writes its two files together or not at all, validated by the harness's
own loader first, and never over an existing file without --force."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from harness.errors import SpecError
from harness.init.write import Existing, check_with_loader, install, layout_for

# A target and drill in the format this harness already knows, to exercise the writer
# itself: the files init generates need the issue-14 format (see test_command.py).
TARGET = textwrap.dedent("""\
    target: svc
    sandboxes:
      process: {command: ["{python}", "-c", "pass"]}
    control_paths:
      admin: {http: {stop: {method: POST, path: /admin/stop}}}
    """)
DRILL = textwrap.dedent("""\
    drill: svc-stop
    target: svc
    steps:
      - at: 1s
        stop: [admin]
    """)


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def test_both_files_are_written_where_drills_find_their_target(tmp_path: Path) -> None:
    """targets/<name>/target.yaml and drills/<name>-stop.yaml: the drill loads by name."""
    layout = layout_for(tmp_path, "svc", "svc-stop")
    written = install(tmp_path, layout, TARGET, DRILL, force=False, check=check_with_loader)
    assert written.target.read_text() == TARGET and written.drill.read_text() == DRILL
    assert _files(tmp_path) == [
        "drills", "drills/svc-stop.yaml", "targets", "targets/svc", "targets/svc/target.yaml"
    ]  # fmt: skip
    from harness.spec import load_drill

    assert load_drill(written.drill).target.target == "svc"


def test_files_that_do_not_validate_are_not_written(tmp_path: Path) -> None:
    """The loader refuses the staged drill: nothing is left, not even the staging folder."""
    layout = layout_for(tmp_path, "svc", "svc-stop")
    with pytest.raises(SpecError, match="unknown control path"):
        install(tmp_path, layout, TARGET, DRILL.replace("[admin]", "[admn]"), force=False,
                check=check_with_loader)  # fmt: skip
    assert _files(tmp_path) == []


def test_an_existing_file_is_kept_without_force_and_replaced_with_it(tmp_path: Path) -> None:
    """Either file already there: refused naming --force; with --force both are replaced."""
    layout = layout_for(tmp_path, "svc", "svc-stop")
    layout.drill.parent.mkdir(parents=True)
    layout.drill.write_text("mine\n")
    with pytest.raises(Existing, match="--force"):
        install(tmp_path, layout, TARGET, DRILL, force=False, check=check_with_loader)
    assert layout.drill.read_text() == "mine\n" and not layout.target.exists()
    install(tmp_path, layout, TARGET, DRILL, force=True, check=check_with_loader)
    assert layout.drill.read_text() == DRILL and layout.target.read_text() == TARGET


def test_when_the_second_file_cannot_be_placed_the_first_is_undone(tmp_path: Path) -> None:
    """The target is placed, then the drill cannot be (its folder is a file): the target
    is removed again, and with --force the file it replaced comes back."""
    layout = layout_for(tmp_path, "svc", "svc-stop")
    (tmp_path / "drills").write_text("a file where the drills folder would be\n")
    with pytest.raises(OSError):
        install(tmp_path, layout, TARGET, DRILL, force=False, check=check_with_loader)
    assert not layout.target.exists()
    layout.target.parent.mkdir(parents=True, exist_ok=True)
    layout.target.write_text("the old target\n")
    with pytest.raises(OSError):
        install(tmp_path, layout, TARGET, DRILL, force=True, check=check_with_loader)
    assert layout.target.read_text() == "the old target\n"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".govdrill-init-")]


def test_problems_name_the_files_as_they_would_have_been(tmp_path: Path) -> None:
    """The loader's problems point at <out>/drills/..., not at the hidden staging folder, and
    an output folder init created is removed again."""
    out = tmp_path / "new"
    layout = layout_for(out, "svc", "svc-stop")
    with pytest.raises(SpecError) as caught:
        install(out, layout, TARGET, DRILL.replace("[admin]", "[admn]"), force=False,
                check=check_with_loader)  # fmt: skip
    assert str(caught.value).startswith(f"{out}/drills/svc-stop.yaml:5:")
    assert not out.exists()
