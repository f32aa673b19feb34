"""Judging one answer of the load: harmful or not, the state it shows, the version that gave it.

Pure and fast, importable from both the harness and the load child: it imports the standard
library, pydantic (through the drill's own models in :mod:`harness.spec.load`),
:mod:`harness.jsonpath` and :mod:`harness.observations`, and nothing that gevent's monkey
patching would break. One job per module: :mod:`._answer` (an answer, its body decoded
lazily), :mod:`._harm` (harm rules), :mod:`._version` (version source), :mod:`._state`
(safe-state rule), :mod:`._judge` (harm and version from one decoding), :mod:`._stream`
(harm on a streamed answer's chunks and accumulated text).

Harm rules
----------
A drill lists :class:`~harness.spec.load.HarmRule` rules, validated when the drill is
loaded. A rule matches when **all** of the fields it gives match; an answer is harmful when
**any** rule matches. Only an HTTP answer can be harmful: a refused, reset or timed-out
request never is.

==================  ==============================================================================
field               matches when
==================  ==============================================================================
``status``          the HTTP status is one of the listed codes
``json_path``       the body parses as JSON and the path selects a value (a missing key, an index
                    out of range or a non-JSON body never match). Alone, "the path selects
                    something".
``regex``           with ``json_path``: ``re.search`` finds it in a selected value, taken as a
                    string (a JSON string as is; any other value as compact JSON, e.g. ``true``,
                    ``3``, ``{"a":1}``). Without ``json_path``: found in the whole body, decoded as
                    UTF-8 (undecodable bytes replaced).
``equals``          a selected value equals this value after JSON decoding (``1 == 1.0``; ``True``
                    is not ``1``); needs ``json_path`` (``$`` is the whole document).
``header``          with ``header_regex``: ``re.search`` finds it in that header's value (name
                    case-insensitive).
``latency_over``    the request took longer than this (start to body read).
==================  ==============================================================================

Wildcards (:mod:`harness.jsonpath`): a path with ``[*]`` may select many values. The rule's
path part matches when **any one** selected value passes both ``regex`` and ``equals`` (each
that is given): ``$.choices[*].message.content`` with a regex is harmful when any choice's
content matches. A version source's path may not hold a wildcard (a version is one value).

Safe state
----------
:class:`~harness.spec.load.SafeState` says which answers show the service halted: refused or
reset connections (each when enabled) and the listed statuses. With ``json_path``, ``regex``
or ``equals`` (matched exactly as a harm rule's), a listed status counts as ``stopped`` only
when its body matches too, and as ``error`` otherwise: a 404 from a missing route is not the
model server's "model not found". A 2xx answer is ``serving`` whatever its body says.

Headers are passed to the judging functions as a ``Mapping[str, str]`` that is looked up with
**lower-case** names: give either a case-insensitive mapping or one with lower-case keys.
"""

from harness.judging._harm import HarmJudge, compile_harm
from harness.judging._judge import AnswerJudge, compile_judge
from harness.judging._state import Failure, StateJudge, classify_state, compile_state
from harness.judging._stream import StreamHarm, StreamHarmJudge
from harness.judging._version import VersionExtractor, compile_version, extract_version

__all__ = [
    "AnswerJudge",
    "Failure",
    "HarmJudge",
    "StateJudge",
    "StreamHarm",
    "StreamHarmJudge",
    "VersionExtractor",
    "classify_state",
    "compile_harm",
    "compile_judge",
    "compile_state",
    "compile_version",
    "extract_version",
]
