"""Input hygiene shared by every request model: one bounded string type, bounded integers,
dates inside a range the platform can compute with, and a check for free-form JSON values.

- ``BoundedStr`` (and ``text(max_length)``): at most ``MAX_STRING_CHARS`` characters (or the
  given cap), no NUL (PostgreSQL cannot store it), no lone surrogate (not Unicode; neither
  SQLite nor a UTF-8 response can carry it).
- ``RequestModel``: the base of request bodies; before field validation it walks the whole
  input (also ``dict[str, Any]`` values) and refuses NUL, lone surrogates, strings over
  ``MAX_STRING_CHARS``, integers outside ``±MAX_ABS_INT`` and nesting deeper than
  ``MAX_DEPTH``.
- ``parse_datetime``: ISO 8601 into an aware UTC datetime between ``MIN_DATE`` and
  ``MAX_DATE`` (arithmetic near year 1 or 9999 overflows).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field, StringConstraints, model_validator

from core.errors import ValidationFailedError

MAX_STRING_CHARS = 10_000
MAX_ABS_INT = 10**15
MAX_DEPTH = 32
MIN_DATE = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
MAX_DATE = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)


def text_problem(value: str) -> str | None:
    if "\x00" in value:
        return "must not contain NUL characters"
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in value):
        return "must be valid Unicode (no lone surrogates)"
    return None


def _clean_text(value: str) -> str:
    problem = text_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def text(max_length: int = MAX_STRING_CHARS, min_length: int = 0) -> Any:
    """A bounded string type with its own cap."""
    return Annotated[
        str,
        StringConstraints(max_length=max_length, min_length=min_length),
        AfterValidator(_clean_text),
    ]


BoundedStr = text()
#: Identifiers (tool, agent, package, plan, scope ids).
IdStr = text(100)


def BoundedInt(ge: int = -MAX_ABS_INT, le: int = MAX_ABS_INT) -> Any:
    return Annotated[int, Field(ge=ge, le=le)]


def value_problem(value: Any, depth: int = 0) -> str | None:
    """What is wrong with a free-form JSON value, or None."""
    if depth > MAX_DEPTH:
        return f"values must not nest deeper than {MAX_DEPTH} levels"
    if isinstance(value, str):
        if len(value) > MAX_STRING_CHARS:
            return f"strings must be at most {MAX_STRING_CHARS} characters"
        problem = text_problem(value)
        return f"strings {problem}" if problem else None
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return None if abs(value) <= MAX_ABS_INT else f"integers must be within ±{MAX_ABS_INT}"
    if isinstance(value, float):
        return None if abs(value) < 1e300 else "numbers must be finite"
    if isinstance(value, dict):
        for k, v in value.items():
            problem = value_problem(k, depth + 1) or value_problem(v, depth + 1)
            if problem:
                return problem
    if isinstance(value, list):
        for v in value:
            problem = value_problem(v, depth + 1)
            if problem:
                return problem
    return None


class RequestModel(BaseModel):
    """Base of every request body model (see the module doc)."""

    @model_validator(mode="before")
    @classmethod
    def _hygiene(cls, data: Any) -> Any:
        problem = value_problem(data)
        if problem:
            raise ValueError(problem)
        return data


def parse_datetime(name: str, raw: str) -> dt.datetime:
    """An ISO 8601 datetime (UTC unless it has an offset) within the supported range."""
    problem = text_problem(raw)
    if problem or len(raw) > 64:
        raise ValidationFailedError(f"`{name}` is not an ISO 8601 datetime", code="INVALID_DATE")
    try:
        value = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise ValidationFailedError(
            f"`{name}` is not an ISO 8601 datetime", code="INVALID_DATE"
        ) from None
    return check_datetime(name, value)


def check_datetime(name: str, value: dt.datetime) -> dt.datetime:
    try:
        value = value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
    except (OverflowError, ValueError):
        value = MAX_DATE + dt.timedelta(days=1)
    if not MIN_DATE <= value <= MAX_DATE:
        raise ValidationFailedError(
            f"`{name}` must be between {MIN_DATE.date()} and {MAX_DATE.date()}",
            code="INVALID_DATE",
            details={"min": MIN_DATE.isoformat(), "max": MAX_DATE.isoformat()},
        )
    return value
