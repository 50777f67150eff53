"""The tool registry: the single source of truth for tools, queues, file roles and agents.

Declarative and importable without the data stack: the gateway, billing (price seeding) and
infra generation read it. Agent implementations are bound to their ids on the worker side only
(``transformers.agents.load_agent``, from each ``AgentSpec.impl``). Adding a tool is one entry
here; adding an agent is one module plus one ``AgentSpec`` entry: chain order, the clean
previewer's simulation and its memoisation all follow from the entries' order and
``changes_data`` (``tests/transformers/test_agent_registry.py`` checks the two agree).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import BaseModel

from transformers.errors import (
    InvalidParametersError,
    UnknownAgentError,
    UnknownReportFormatError,
    UnknownToolError,
)
from transformers.params import clean as pc
from transformers.params import master as pm
from transformers.params import profile as pp

TABULAR_FORMATS: tuple[str, ...] = ("csv", "tsv", "xlsx", "json", "jsonl", "parquet")
DOCUMENT_FORMATS: tuple[str, ...] = ("json", "yaml")

#: The report's renderings a task can ask for (``report_formats``): ``report.json`` (always
#: written: it is ``GET /v1/tasks/{id}/report``), ``report.html`` and ``report.xlsx``.
REPORT_FORMATS: tuple[str, ...] = ("json", "html", "xlsx")
#: What a task gets when it does not say: every rendering, as before the option existed.
DEFAULT_REPORT_FORMATS: tuple[str, ...] = REPORT_FORMATS


def report_formats(given: list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
    """The renderings to build, in canonical order, ``json`` always among them; ``None`` is
    the default. An unknown format is ``UNKNOWN_REPORT_FORMAT`` naming it."""
    if given is None:
        return DEFAULT_REPORT_FORMATS
    unknown = [f for f in given if f not in REPORT_FORMATS]
    if unknown:
        raise UnknownReportFormatError(
            f"Unknown report format {unknown[0]!r}; choose from {', '.join(REPORT_FORMATS)}",
            details={"format": str(unknown[0])[:64], "formats": list(REPORT_FORMATS)},
        )
    return tuple(f for f in REPORT_FORMATS if f == "json" or f in given)


@dataclass(frozen=True)
class FileRole:
    name: str
    required: bool
    description: str
    formats: tuple[str, ...] = TABULAR_FORMATS
    tabular: bool = True


@dataclass(frozen=True)
class AgentSpec:
    agent_id: str
    title: str
    description: str
    price: int  # default credits per successful run; operators may override in the price table
    params: type[BaseModel]
    #: File roles without which the agent is skipped (not failed, not charged).
    requires_roles: tuple[str, ...] = ()
    #: The agent returns a changed frame (chained tools feed it to the next agent; the clean
    #: previewer simulates exactly these agents, and their runs reuse its simulation).
    changes_data: bool = False
    #: ``package.module:function`` of the implementation, imported on the worker side only
    #: (``transformers.agents.implementations``), so this table stays free of the data stack.
    impl: str = ""


@dataclass(frozen=True)
class ToolSpec:
    tool_id: str
    title: str
    description: str
    file_roles: tuple[FileRole, ...]
    agents: tuple[AgentSpec, ...]
    #: Chained tools feed each agent's output frame to the next; otherwise all read the input.
    chained: bool
    allow_custom_order: bool = False
    queue: str = ""
    #: Optional ``module:function`` that wraps each implementation of this tool when it is
    #: bound: ``(AgentSpec, fn) -> fn`` (clean-my-data: reuse the previewer's simulation).
    bind: str = ""
    #: Chained tools that change data: the stem of the data file the pipeline hands back when
    #: an agent changed data and no agent wrote the data itself (``cleaned`` -> cleaned.csv).
    data_output: str | None = None
    #: Its agents compute over lazy scans (``transformers.engine.scan.ScanFrame``): inputs too
    #: large for the worker's memory budget are analysed from a Parquet working copy.
    out_of_core: bool = False

    @property
    def queue_name(self) -> str:
        return self.queue or self.tool_id

    @property
    def agent_ids(self) -> list[str]:
        return [a.agent_id for a in self.agents]

    def agent(self, agent_id: str) -> AgentSpec:
        for a in self.agents:
            if a.agent_id == agent_id:
                return a
        raise UnknownAgentError(
            f"Agent '{agent_id}' is not part of tool '{self.tool_id}'",
            details={"agent_id": agent_id, "tool_id": self.tool_id, "agents": self.agent_ids},
        )

    def role(self, name: str) -> FileRole | None:
        return next((r for r in self.file_roles if r.name == name), None)


PRIMARY = FileRole("primary", True, "The data set to analyse.")
BASELINE = FileRole("baseline", False, "An earlier version of the data, for drift detection.")
CONTRACT = FileRole(
    "contract",
    False,
    "A data contract (JSON or YAML): columns, types, renames, allowed values, ranges.",
    formats=DOCUMENT_FORMATS,
    tabular=False,
)
REFERENCE = FileRole("reference", False, "Reference data for foreign-key and value checks.")

PROFILE = ToolSpec(
    tool_id="profile-my-data",
    title="Profile my data",
    description="What is in this data and can I trust it?",
    file_roles=(PRIMARY, BASELINE),
    chained=False,
    out_of_core=True,
    agents=(
        AgentSpec(
            "unified-profiler",
            "Unified profiler",
            "Per-column statistics, types, patterns, outliers and a dataset quality grade.",
            10,
            pp.UnifiedProfilerParams,
            impl="transformers.agents.profile.unified_profiler:run",
        ),
        AgentSpec(
            "drift-detector",
            "Drift detector",
            "Distribution, missing-rate and schema drift against a baseline file.",
            10,
            pp.DriftDetectorParams,
            requires_roles=("baseline",),
            impl="transformers.agents.profile.drift_detector:run",
        ),
        AgentSpec(
            "score-risk",
            "PII risk scorer",
            "PII detection by value patterns, per-column and overall risk, frameworks affected.",
            8,
            pp.ScoreRiskParams,
            impl="transformers.agents.profile.score_risk:run",
        ),
        AgentSpec(
            "test-coverage-agent",
            "Test coverage",
            "Runs declared uniqueness, range, format and not-null tests.",
            5,
            pp.TestCoverageParams,
            impl="transformers.agents.profile.test_coverage:run",
        ),
        AgentSpec(
            "readiness-rater",
            "Readiness rater",
            "READY / NEEDS_REVIEW / NOT_READY with the deductions that led there.",
            5,
            pp.ReadinessRaterParams,
            impl="transformers.agents.profile.readiness_rater:run",
        ),
        AgentSpec(
            "governance-checker",
            "Governance checker",
            "Checks declared governance rules against what the profile and PII scan found.",
            5,
            pp.GovernanceCheckerParams,
            impl="transformers.agents.profile.governance_checker:run",
        ),
    ),
)

CLEAN = ToolSpec(
    tool_id="clean-my-data",
    title="Clean my data",
    description="Give me a clean copy, and tell me exactly what changed.",
    file_roles=(PRIMARY,),
    chained=True,
    bind="transformers.agents.clean._memo:bind",
    data_output="cleaned",
    agents=(
        AgentSpec(
            "cleanse-previewer",
            "Cleanse previewer",
            "Simulates the configured rules in sequence and lists affected rows.",
            5,
            pc.CleansePreviewerParams,
            impl="transformers.agents.clean.cleanse_previewer:run",
        ),
        AgentSpec(
            "quarantine-agent",
            "Quarantine",
            "Moves rows that break constraints into a quarantine file with reasons.",
            8,
            pc.QuarantineParams,
            changes_data=True,
            impl="transformers.agents.clean.quarantine:run",
        ),
        AgentSpec(
            "type-fixer",
            "Type fixer",
            "Converts text columns to numbers, booleans and dates when they parse.",
            8,
            pc.TypeFixerParams,
            changes_data=True,
            impl="transformers.agents.clean.type_fixer:run",
        ),
        AgentSpec(
            "field-standardization",
            "Field standardization",
            "Trims, collapses spaces, applies case, synonyms, units and ISO dates.",
            8,
            pc.FieldStandardizationParams,
            changes_data=True,
            impl="transformers.agents.clean.field_standardization:run",
        ),
        AgentSpec(
            "duplicate-resolver",
            "Duplicate resolver",
            "Exact, normalised and fuzzy duplicates, resolved by a strategy.",
            10,
            pc.DuplicateResolverParams,
            changes_data=True,
            impl="transformers.agents.clean.duplicate_resolver:run",
        ),
        AgentSpec(
            "null-handler",
            "Null handler",
            "Recognises placeholder nulls and fills or drops them per column.",
            8,
            pc.NullHandlerParams,
            changes_data=True,
            impl="transformers.agents.clean.null_handler:run",
        ),
        AgentSpec(
            "outlier-remover",
            "Outlier remover",
            "IQR, z-score or percentile outliers removed, capped or imputed.",
            8,
            pc.OutlierRemoverParams,
            changes_data=True,
            impl="transformers.agents.clean.outlier_remover:run",
        ),
        AgentSpec(
            "cleanse-writeback",
            "Cleanse writeback",
            "Verifies the result against the original and writes the cleaned files.",
            5,
            pc.CleanseWritebackParams,
            impl="transformers.agents.clean.cleanse_writeback:run",
        ),
    ),
)

MASTER = ToolSpec(
    tool_id="master-my-data",
    title="Master my data",
    description="Give me one golden record per real-world entity.",
    file_roles=(PRIMARY, CONTRACT, REFERENCE),
    chained=True,
    agents=(
        AgentSpec(
            "key-identifier",
            "Key identifier",
            "Finds candidate primary and composite keys.",
            5,
            pm.KeyIdentifierParams,
            impl="transformers.agents.master.key_identifier:run",
        ),
        AgentSpec(
            "contract-enforcer",
            "Contract enforcer",
            "Applies a data contract (or derives one): columns, types, renames, values.",
            8,
            pm.ContractEnforcerParams,
            changes_data=True,
            impl="transformers.agents.master.contract_enforcer:run",
        ),
        AgentSpec(
            "semantic-mapper",
            "Semantic mapper",
            "Maps columns to a canonical vocabulary and standardises domain values.",
            8,
            pm.SemanticMapperParams,
            changes_data=True,
            impl="transformers.agents.master.semantic_mapper:run",
        ),
        AgentSpec(
            "golden-record-builder",
            "Golden record builder",
            "Entity resolution with blocking, field comparators and clustering.",
            20,
            pm.GoldenRecordBuilderParams,
            changes_data=True,
            impl="transformers.agents.master.golden_record_builder:run",
        ),
        AgentSpec(
            "survivorship-resolver",
            "Survivorship resolver",
            "Re-picks each golden field by survivorship rules with a confidence.",
            10,
            pm.SurvivorshipResolverParams,
            changes_data=True,
            impl="transformers.agents.master.survivorship_resolver:run",
        ),
        AgentSpec(
            "stewardship-flagger",
            "Stewardship flagger",
            "Review tasks for low-confidence merges, conflicts and rule violations.",
            5,
            pm.StewardshipFlaggerParams,
            impl="transformers.agents.master.stewardship_flagger:run",
        ),
        AgentSpec(
            "lineage-tracer",
            "Lineage tracer",
            "Which source rows and rule produced each golden field.",
            5,
            pm.LineageTracerParams,
            impl="transformers.agents.master.lineage_tracer:run",
        ),
        AgentSpec(
            "master-writeback-agent",
            "Master writeback",
            "Writes golden records, cross-reference and stewardship queue.",
            5,
            pm.MasterWritebackParams,
            impl="transformers.agents.master.master_writeback:run",
        ),
    ),
)

TOOLS: dict[str, ToolSpec] = {t.tool_id: t for t in (PROFILE, CLEAN, MASTER)}


def get_tool(tool_id: str) -> ToolSpec:
    try:
        return TOOLS[tool_id]
    except KeyError:
        raise UnknownToolError(
            f"Unknown tool '{tool_id}'", details={"tool_id": tool_id, "tools": list(TOOLS)}
        ) from None


def all_agents() -> dict[str, AgentSpec]:
    return {a.agent_id: a for t in TOOLS.values() for a in t.agents}


def tool_queues() -> list[str]:
    return [t.queue_name for t in TOOLS.values()]


@dataclass
class ResolvedRequest:
    tool: ToolSpec
    agents: list[str]
    parameters: dict[str, dict[str, object]] = field(default_factory=dict)


def resolve_request(
    tool_id: str, agents: list[str] | None, parameters: dict[str, object] | None
) -> ResolvedRequest:
    """Validate a task request against the registry before anything is stored or queued.

    Agents: unknown → UNKNOWN_AGENT naming it; duplicates rejected; canonical order unless the
    tool allows custom order. Parameters: validated against each agent's model; the error names
    the path of the bad field (``parameters.<agent>.<field>``).
    """
    from pydantic import ValidationError

    tool = get_tool(tool_id)
    chosen = list(agents) if agents else tool.agent_ids
    if not chosen:
        raise InvalidParametersError("At least one agent is required", details={"agents": []})
    seen: set[str] = set()
    for agent_id in chosen:
        tool.agent(agent_id)
        if agent_id in seen:
            raise InvalidParametersError(
                f"Agent '{agent_id}' is listed twice", details={"agent_id": agent_id}
            )
        seen.add(agent_id)
    if not tool.allow_custom_order:
        chosen = [a for a in tool.agent_ids if a in seen]

    params_in = parameters or {}
    if not isinstance(params_in, dict):
        raise InvalidParametersError("parameters must be an object keyed by agent id")
    validated: dict[str, dict[str, object]] = {}
    for agent_id, value in params_in.items():
        spec = tool.agent(agent_id)
        if agent_id not in seen:
            raise InvalidParametersError(
                f"Parameters given for agent '{agent_id}', which is not selected",
                details={"agent_id": agent_id, "path": f"parameters.{agent_id}"},
            )
        if not isinstance(value, dict):
            raise InvalidParametersError(
                f"parameters.{agent_id} must be an object",
                details={"path": f"parameters.{agent_id}"},
            )
        try:
            model = spec.params.model_validate(value)
        except ValidationError as exc:
            first = exc.errors()[0]
            path = ".".join(["parameters", agent_id, *(str(p) for p in first["loc"])])
            raise InvalidParametersError(
                f"{path}: {first['msg']}",
                details={
                    "path": path,
                    "errors": [
                        {
                            "path": ".".join(["parameters", agent_id, *(str(p) for p in e["loc"])]),
                            "message": e["msg"],
                        }
                        for e in exc.errors()
                    ],
                },
            ) from None
        validated[agent_id] = model.model_dump(mode="json", exclude_unset=True)
    return ResolvedRequest(tool=tool, agents=chosen, parameters=validated)
