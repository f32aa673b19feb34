"""The ``--drill-*`` options and ``drill_*`` ini values, resolved once per pytest process."""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

__all__ = ["SETTINGS", "DrillSettings", "settings_of"]

DEFAULT_GLOBS = ("*.yaml", "*.yml")


@dataclass(frozen=True, slots=True)
class DrillSettings:
    """Where drills are found, what is overridden, and where their evidence goes."""

    results: Path
    sandbox: str | None
    overrides: tuple[str, ...]
    targets: tuple[Path, ...]
    globs: tuple[str, ...]
    rootdir: Path
    tsa_url: str | None = None
    """The RFC 3161 TSA that timestamps each run's attestation (``--drill-tsa``)."""
    authorized_by: str | None = None
    """``--drill-authorized-by`` as given (checked, with $GOVDRILL_AUTHORIZED_BY, per run)."""

    @classmethod
    def from_config(cls, config: pytest.Config) -> DrillSettings:
        """Read the options once; relative paths are taken from where pytest was started
        (command line) or from the ini file's folder (ini values)."""
        here = config.invocation_params.dir
        ini_base = config.inipath.parent if config.inipath is not None else config.rootpath
        results_opt: str | None = config.getoption("drill_results")
        results_ini: str = config.getini("drill_results")
        if results_opt:
            results = here / results_opt
        elif results_ini:
            results = ini_base / results_ini
        else:
            results = config.rootpath / "results"
        targets_opt: list[str] = config.getoption("drill_targets") or []
        targets_ini: list[Path] = config.getini("drill_targets")
        globs: list[str] = config.getini("drill_glob")
        return cls(
            results=Path(os.path.abspath(results)),
            sandbox=config.getoption("drill_sandbox"),
            overrides=tuple(config.getoption("drill_set") or ()),
            targets=(*(here / t for t in targets_opt), *targets_ini),
            globs=tuple(globs) or DEFAULT_GLOBS,
            rootdir=config.rootpath,
            tsa_url=config.getoption("drill_tsa") or config.getini("drill_tsa") or None,
            authorized_by=config.getoption("drill_authorized_by"),
        )

    def matches(self, path: Path) -> bool:
        """Whether ``path`` matches ``drill_glob``: a pattern with a ``/`` is matched against
        the path from the rootdir (``*`` crossing folders), any other against the file name."""
        try:
            relative = path.relative_to(self.rootdir).as_posix()
        except ValueError:
            relative = path.as_posix()
        for pattern in self.globs:
            subject = relative if "/" in pattern else path.name
            if fnmatch.fnmatchcase(subject, pattern):
                return True
        return False

    def overrides_for(self, extra: Sequence[str] = ()) -> tuple[str, ...]:
        """A test's own overrides, then ``--drill-set``, then ``--drill-sandbox``: the command
        line has the last word."""
        sandbox = (f"sandbox={self.sandbox}",) if self.sandbox else ()
        return (*extra, *self.overrides, *sandbox)


SETTINGS = pytest.StashKey[DrillSettings]()


def settings_of(config: pytest.Config) -> DrillSettings:
    """The session's drill settings (resolved at configure time)."""
    return config.stash[SETTINGS]
