"""The agent contract: what every analysis agent receives and returns.

An agent is a pure function ``run(frame, params, ctx) -> AgentResult``. The pipeline times it,
catches its exceptions (a crash becomes ``status=failed``), carries data-changing agents'
output frames forward, and never re-parses text between agents.

This module imports polars only for type checking, so the gateway can import the registry
(which imports the parameter models, not this engine) without the data stack.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

from pydantic import BaseModel

from transformers.errors import InvalidParametersError

if TYPE_CHECKING:
    import polars as pl

#: Stable row identity, added when a file is parsed (0-based position in the input file) and
#: kept by every agent, so that row-level findings and change logs point at the real input row.
ROW_ID = "__row_id__"


class AgentStatus(StrEnum):
    SUCCESS = "success"
    FAILED = "failed"
    SKIPPED = "skipped"


class Severity(StrEnum):
    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


@dataclass
class Alert:
    id: str
    severity: str
    category: str
    message: str
    affected_fields_count: int = 0
    recommendation: str = ""


@dataclass
class Issue:
    id: str
    field: str | None
    issue_type: str
    severity: str
    message: str


@dataclass
class Recommendation:
    id: str
    priority: str  # high | medium | low
    text: str
    effort: str = "medium"  # low | medium | high


@dataclass
class SummaryItem:
    title: str
    value: str | int | float
    status: str  # good | warning | critical | info


@dataclass
class RowIssue:
    row_id: int
    column: str | None
    issue_type: str
    severity: str
    value: Any
    message: str


@dataclass
class RowIssueBlock:
    """Row issues of one column and kind, held as two columns of a frame (``__row_id__`` and
    the value), not as Python objects: a block of a million outliers is two arrays."""

    hits: Any  # pl.DataFrame with ROW_ID and ``column`` (only ROW_ID for a row finding)
    #: None for findings about a whole row (no value): the message is then ``head + tail``.
    column: str | None
    issue_type: str
    severity: str
    #: The message of a row is ``head + str(value) + tail``.
    head: str
    tail: str

    def __len__(self) -> int:
        return int(self.hits.height)

    def __iter__(self) -> Iterator[RowIssue]:
        step = 10_000
        for offset in range(0, len(self), step):
            part = self.hits.slice(offset, step)
            ids = part.get_column(ROW_ID).to_list()
            if self.column is None:
                message = self.head + self.tail
                for rid in ids:
                    yield RowIssue(rid, None, self.issue_type, self.severity, None, message)
                continue
            values = part.get_column(self.column).to_list()
            for rid, v in zip(ids, values, strict=True):
                yield RowIssue(
                    rid, self.column, self.issue_type, self.severity, v,
                    f"{self.head}{v}{self.tail}",
                )  # fmt: skip


class RowIssues(Sequence[RowIssue]):
    """An agent's row-level findings: columnar blocks (``RowIssueBlock``) then single issues.

    Reads like the list it replaces (``len``, iteration in order, indexing, slicing, ``+``,
    ``append``, equality with a list) and builds ``RowIssue`` objects only while iterated, so a
    report writer streams a million findings without holding them."""

    def __init__(
        self, blocks: Iterable[RowIssueBlock] = (), items: Iterable[RowIssue] = ()
    ) -> None:
        self.blocks = [b for b in blocks if len(b)]
        self.items = list(items)

    def __len__(self) -> int:
        return sum(len(b) for b in self.blocks) + len(self.items)

    def __iter__(self) -> Iterator[RowIssue]:
        for b in self.blocks:
            yield from b
        yield from self.items

    @overload
    def __getitem__(self, index: int) -> RowIssue: ...
    @overload
    def __getitem__(self, index: slice) -> list[RowIssue]: ...
    def __getitem__(self, index: int | slice) -> RowIssue | list[RowIssue]:
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            if step == 1:
                return list(islice(iter(self), start, stop))
            return list(self)[index]
        n = len(self)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError(index)
        return next(islice(iter(self), index, None))

    def append(self, issue: RowIssue) -> None:
        self.items.append(issue)

    def __add__(self, other: Iterable[RowIssue]) -> RowIssues:
        if isinstance(other, RowIssues):
            return RowIssues([*self.blocks, *other.blocks], [*self.items, *other.items])
        return RowIssues(self.blocks, [*self.items, *other])

    def __eq__(self, other: object) -> bool:
        if isinstance(other, RowIssues | list):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"RowIssues({len(self)} issues in {len(self.blocks)} blocks)"


class ChangeKind(StrEnum):
    CELL = "cell"  # a cell's value changed
    ROW_REMOVED = "row_removed"  # e.g. a duplicate dropped, a row with nulls dropped
    ROW_QUARANTINED = "row_quarantined"
    COLUMN_RENAMED = "column_renamed"
    COLUMN_REMOVED = "column_removed"
    COLUMN_TYPE = "column_type"  # a column's type converted (cell changes listed separately)


@dataclass
class Change:
    """One entry of the change log. ``before``/``after`` hold the raw values (never nulled)."""

    kind: ChangeKind
    agent_id: str
    rule: str
    row_id: int | None = None
    column: str | None = None
    before: Any = None
    after: Any = None
    reason: str = ""


@dataclass
class ChangeBlock:
    """Changes of one agent, one kind and (cell changes) one column, held as a frame, not as
    Python objects: a block of a million converted cells is a few arrays.

    ``frame`` has ``ROW_ID`` (Int64), ``rule`` and ``reason`` (String), and

    - cell changes: ``before`` and ``after``, the raw old and new values in their own types;
    - row changes (removed, quarantined): ``before``, the whole row as a struct (absent when
      the row had no column besides ``ROW_ID``: the row is then ``{}``).

    Row changes carry no column and no ``after``. Stored as Parquet, a block reads back with
    the same types, so its ``Change`` objects are the same after a checkpoint."""

    frame: Any  # pl.DataFrame
    kind: ChangeKind
    agent_id: str
    column: str | None = None

    def __len__(self) -> int:
        return int(self.frame.height)

    def __iter__(self) -> Iterator[Change]:
        step = 10_000
        cell = "after" in self.frame.columns
        has_before = "before" in self.frame.columns
        for offset in range(0, len(self), step):
            part = self.frame.slice(offset, step)
            ids = part.get_column(ROW_ID).to_list()
            rules = part.get_column("rule").to_list()
            reasons = part.get_column("reason").to_list()
            n = len(ids)
            befores = part.get_column("before").to_list() if has_before else [{}] * n
            afters = part.get_column("after").to_list() if cell else [None] * n
            column = self.column if cell else None
            for rid, rule, reason, b, a in zip(ids, rules, reasons, befores, afters, strict=True):
                yield Change(self.kind, self.agent_id, rule, rid, column, b, a, reason)


ChangePart = ChangeBlock | list[Change]


class Changes(Sequence[Change]):
    """An agent's change log: columnar blocks (``ChangeBlock``) and single changes, in order.

    Reads like the list it replaces (``len``, iteration in order, indexing, slicing, ``+``,
    ``append``, equality with a list) and builds ``Change`` objects only while iterated; a
    checkpoint stores the blocks as Parquet, the change-log file is rendered from them."""

    def __init__(self, parts: Iterable[ChangeBlock | Change | list[Change]] = ()) -> None:
        self.parts: list[ChangePart] = []
        for p in parts:
            if isinstance(p, ChangeBlock):
                if len(p):
                    self.parts.append(p)
            elif isinstance(p, Change):
                self.append(p)
            else:
                for c in p:
                    self.append(c)

    @property
    def blocks(self) -> list[ChangeBlock]:
        return [p for p in self.parts if isinstance(p, ChangeBlock)]

    def __len__(self) -> int:
        return sum(len(p) for p in self.parts)

    def __iter__(self) -> Iterator[Change]:
        for p in self.parts:
            yield from p

    @overload
    def __getitem__(self, index: int) -> Change: ...
    @overload
    def __getitem__(self, index: slice) -> list[Change]: ...
    def __getitem__(self, index: int | slice) -> Change | list[Change]:
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            if step == 1:
                return list(islice(iter(self), start, max(start, stop)))
            return list(self)[index]
        n = len(self)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError(index)
        for p in self.parts:
            if index < len(p):
                return p[index] if isinstance(p, list) else next(islice(iter(p), index, None))
            index -= len(p)
        raise IndexError(index)  # pragma: no cover (the length was checked)

    def append(self, change: Change) -> None:
        if self.parts and isinstance(self.parts[-1], list):
            self.parts[-1].append(change)
        else:
            self.parts.append([change])

    def __add__(self, other: Iterable[Change]) -> Changes:
        others: Iterable[ChangeBlock | list[Change]] = (
            other.parts if isinstance(other, Changes) else [list(other)]
        )
        return Changes([*self.parts, *others])

    def __radd__(self, other: Iterable[Change]) -> list[Change]:
        return [*other, *self]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Changes | list):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Changes({len(self)} changes in {len(self.blocks)} blocks)"


@dataclass
class OutputFile:
    """A file an agent or the report writer produced in the local work directory.

    The pipeline uploads it to ``tenants/{t}/tasks/{id}/outputs/{name}``.
    """

    name: str
    path: Path | None  # None once uploaded (e.g. when a run resumes from a checkpoint)
    kind: (
        str  # report | data | changes | quarantine | issues | golden | xref | stewardship | lineage
    )
    content_type: str = "application/octet-stream"
    #: Bytes stored, set by the pipeline when it uploads the file (kept across a resume).
    size: int | None = None


@dataclass
class AgentResult:
    agent_id: str
    status: AgentStatus = AgentStatus.SUCCESS
    duration_ms: int = 0
    summary_metrics: dict[str, float | int] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    alerts: list[Alert] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    recommendations: list[Recommendation] = field(default_factory=list)
    executive_summary: list[SummaryItem] = field(default_factory=list)
    #: A list, or ``RowIssues`` (columnar blocks) when an agent finds many.
    row_level_issues: list[RowIssue] | RowIssues = field(default_factory=list)
    #: Data-changing agents return the new frame (keeping ``__row_id__`` and row order).
    frame: pl.DataFrame | None = None
    #: A list, or ``Changes`` (columnar blocks) as the clean agents return them.
    changes: list[Change] | Changes = field(default_factory=list)
    outputs: list[OutputFile] = field(default_factory=list)
    #: Column renames this agent applied: {old name: new name}. Carried forward by the pipeline.
    renames: dict[str, str] = field(default_factory=dict)
    #: Set for failed/skipped agents: a user-facing reason.
    error_code: str | None = None
    error: str | None = None


@dataclass
class InputInfo:
    role: str
    filename: str
    format: str  # csv | tsv | xlsx | json | jsonl | parquet
    encoding: str | None = None
    rows: int = 0
    columns: int = 0
    skipped_lines: list[dict[str, Any]] = field(default_factory=list)
    #: Nested JSON: flattened column -> {"path": [keys], "json_text": "list" | "object"}
    column_sources: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Analysed out of core, from a Parquet working copy (the task's inputs did not fit its
    #: memory budget); False when loaded into memory.
    out_of_core: bool = False


@dataclass
class AgentContext:
    """What an agent may know beyond its frame and parameters."""

    task_id: str
    tenant_id: str
    tool_id: str
    agent_id: str
    #: Parsed input frames by file role, as loaded (``primary`` before any agent changed it).
    frames: dict[str, pl.DataFrame]
    inputs: dict[str, InputInfo]
    #: Local scratch directory for output files; removed after upload.
    work_dir: Path
    #: Results of the agents that already ran in this task, by agent id, in order.
    results: dict[str, AgentResult] = field(default_factory=dict)
    #: Original column name -> current name, after every rename so far.
    column_aliases: dict[str, str] = field(default_factory=dict)
    #: Parsed auxiliary documents by role (e.g. the ``contract`` file as a dict).
    documents: dict[str, Any] = field(default_factory=dict)

    def resolve(self, column: str, frame: pl.DataFrame) -> str:
        """Map a column named in parameters (original or current name) to its current name.

        Raises InvalidParametersError naming the column when it no longer exists (removed by an
        earlier agent, or never there), so the user sees which parameter is wrong.
        """
        current = self.column_aliases.get(column, column)
        if current in frame.columns:
            return current
        if column in frame.columns:
            return column
        raise InvalidParametersError(
            f"{self.agent_id}: column '{column}' is not in the data"
            + (f" (renamed to '{current}', which is gone)" if current != column else ""),
            details={"agent_id": self.agent_id, "column": column},
        )


def carry_renames(aliases: dict[str, str], renames: dict[str, str]) -> None:
    """Fold one agent's renames into ``aliases`` (original name -> current name), in place, so
    a later agent's parameters that name an original column still resolve."""
    for old, new in renames.items():
        for original, now in list(aliases.items()):
            if now == old:
                aliases[original] = new
        aliases.setdefault(old, new)


AgentFn = Callable[["pl.DataFrame", BaseModel, AgentContext], AgentResult]
