"""Nested JSON / JSON Lines records as flat rows: objects become dotted columns.

``{"id": 1, "user": {"name": "u1", "age": 21}, "tags": ["a", "b"]}`` reads as the columns
``id``, ``user.name``, ``user.age`` and ``tags`` (the list kept as its JSON text, ``["a","b"]``).
Objects are flattened down to ``MAX_DEPTH`` levels of keys; an object deeper than that, like
any list, is kept as JSON text in one column. Each column remembers where it came from
(``ColumnSource``: the key path, and whether it holds a list or object as JSON text), which the
reader passes on in ``InputInfo.column_sources`` and the profile reports.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

#: key levels flattened into dotted names (``a.b.c``); deeper objects are kept as JSON text
MAX_DEPTH = 3


@dataclass
class ColumnSource:
    path: list[str]
    #: None: plain values; "list" / "object": the values are JSON text of lists / objects
    json_text: str | None = None

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path}
        if self.json_text:
            out["json_text"] = self.json_text
        return out


def _text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def flatten(
    record: dict[str, Any], sources: dict[str, ColumnSource], max_depth: int = MAX_DEPTH
) -> dict[str, Any]:
    """One record as ``{dotted name: value}``; ``sources`` collects each name's origin."""
    out: dict[str, Any] = {}

    def walk(obj: dict[str, Any], path: list[str]) -> None:
        for key, value in obj.items():
            here = [*path, str(key)]
            name = ".".join(here)
            if isinstance(value, dict) and value and len(here) < max_depth:
                walk(value, here)
                continue
            kind = (
                "list" if isinstance(value, list) else "object" if isinstance(value, dict) else None
            )
            src = sources.get(name)
            if src is None:
                sources[name] = ColumnSource(here, kind)
            elif kind and not src.json_text:
                src.json_text = kind
            out[name] = _text(value) if kind else value

    walk(record, [])
    return out


def is_nested(sources: dict[str, ColumnSource]) -> bool:
    """Whether flattening changed anything (a dotted path or JSON text)."""
    return any(len(s.path) > 1 or s.json_text for s in sources.values())
