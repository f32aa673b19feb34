"""The base every spec model shares: frozen, no unknown key, fields by name or alias."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict

__all__ = ["Frozen", "UrlPath"]


def _absolute_path(value: str) -> str:
    if not value.startswith("/"):
        raise ValueError("must start with '/'")
    return value


UrlPath = Annotated[str, AfterValidator(_absolute_path)]
"""The path part of a URL, starting with '/'."""


class Frozen(BaseModel):
    """A frozen spec model that refuses unknown keys."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)
