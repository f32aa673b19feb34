"""``govdrill init``: probe a service already running at a URL and write a target file and
a drill for it that validate.

Modules, one job each: :mod:`~harness.init.probe` (bounded requests), ``recognise`` (which
protocol, which models), ``questions`` (flags, else a terminal), ``plan`` (what to write),
``render`` (safe YAML), ``write`` (stage, validate, move into place) and ``command``.
"""
