"""The description of one load, frozen and validated, sent to the load child as JSON.

:class:`LoadConfig` says whom to load (``base_url``), how hard (``users``, ``spawn_rate``,
``per_user_rate``), with what request, and how to judge each answer. The request, the harm
rules, the safe-state rule and the version source are the drill's own models
(:mod:`harness.spec.load`), validated once when the drill was loaded; the request's
``${NAME}`` secrets are resolved before the config is built. It travels to the child as one
line of JSON (``model_dump_json``) and is rebuilt there with ``model_validate_json``, which
validates exactly like the constructor.

Semantics of the fields:

=================  ================================================================================
field              meaning
=================  ================================================================================
``base_url``       ``http://host:port`` or ``https://host:port``, optionally with a path prefix
                   that is put before ``request.path``
``users``          concurrent simulated users; each holds one keep-alive connection
``spawn_rate``     users started per second
``request``        the one request every user sends (:class:`~harness.spec.load.RequestSpec`)
``timeout_s``      the longest wait to connect, and for each read of the answer; beyond it the
                   request is a timeout (an answer trickling in slower still counts as one)
``per_user_rate``  requests per second per user (Locust's ``constant_throughput``); ``None``: as
                   fast as the target answers
``harm``           harm rules (:class:`~harness.spec.load.HarmRule`); empty: nothing is harmful
``safe_state``     which answers mean "stopped" (:class:`~harness.spec.load.SafeState`)
``version``        where an answer names its model version
                   (:class:`~harness.spec.load.VersionSource`)
``parent_pid``     pid of the harness; the child exits at once when its parent is not this pid
``heartbeat_s``    how often the child says it is alive
``max_body``       the most bytes of an answer's body read and judged (default 1 MiB, at most
                   :data:`~harness.spec.load.MAX_BODY_LIMIT`); a longer body is cut, its
                   observation marked truncated and its connection closed rather than drained
``stream``         read each answer as server-sent events as it arrives: every chunk timed and
                   judged (:mod:`harness.load.streaming`), one stream record per answer
=================  ================================================================================
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictInt

from harness.spec.load import (
    DEFAULT_MAX_BODY,
    DEFAULT_VERSION_HEADER,
    MAX_BODY_LIMIT,
    HarmRule,
    RequestSpec,
    SafeState,
    VersionSource,
)
from harness.spec.urls import check_base_url

__all__ = ["LoadConfig"]


class LoadConfig(BaseModel):
    """One load: whom, how hard, what request, how to judge answers (see the module table)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    base_url: Annotated[str, AfterValidator(check_base_url)]
    users: StrictInt = Field(ge=1)
    spawn_rate: float = Field(gt=0)
    request: RequestSpec
    parent_pid: StrictInt = Field(ge=1)
    timeout_s: float = Field(default=5.0, gt=0)
    per_user_rate: float | None = Field(default=None, gt=0)
    harm: tuple[HarmRule, ...] = ()
    safe_state: SafeState = SafeState()
    version: VersionSource = VersionSource(header=DEFAULT_VERSION_HEADER)
    heartbeat_s: float = Field(default=0.1, gt=0)
    max_body: StrictInt = Field(default=DEFAULT_MAX_BODY, ge=1, le=MAX_BODY_LIMIT)
    stream: bool = False
