"""Parameter models of the clean-my-data agents."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from transformers.params.base import AgentParams

DEFAULT_NULL_PLACEHOLDERS = ["", "n/a", "na", "null", "none", "-", "--", "?", "nan", "missing"]


class CleansePreviewerParams(AgentParams):
    preview_rows: int = Field(100, ge=0, description="Row ids listed per rule in the JSON report.")
    agent_parameters: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Parameters of the later agents to simulate, by agent id (the previewer "
        "only receives its own parameters; agents not given here are simulated with their "
        "defaults).",
    )
    simulate_agents: list[str] | None = Field(
        None, description="Agents to simulate, in chain order (None = all data-changing ones)."
    )


class QuarantineParams(AgentParams):
    required_fields: list[str] = Field(default_factory=list)
    expected_schema: dict[str, str] = Field(default_factory=dict)
    range_constraints: dict[str, dict[str, float]] = Field(default_factory=dict)
    format_constraints: dict[str, str] = Field(default_factory=dict)
    quarantine_empty_rows: bool = True
    detect_injection: bool = True
    missing_tokens: list[str] = Field(
        default_factory=lambda: list(DEFAULT_NULL_PLACEHOLDERS),
        description="Values that count as missing for required_fields (trimmed, any case).",
    )
    day_first: bool | None = Field(
        None, description="Day/month order for date checks (None = either order is valid)."
    )


class TypeFixerParams(AgentParams):
    min_parse_ratio: float = Field(0.9, gt=0, le=1)
    day_first: bool | None = Field(None, description="None = detect the day/month order.")
    columns: list[str] | None = Field(None, description="Only these columns (None = all).")
    null_tokens: list[str] = Field(
        default_factory=lambda: list(DEFAULT_NULL_PLACEHOLDERS),
        description="Placeholder values not counted when measuring the parse ratio; in a "
        "converted column they become null (logged).",
    )
    convert_numbers: bool = True
    convert_booleans: bool = True
    convert_dates: bool = True


class FieldStandardizationParams(AgentParams):
    trim: bool = True
    collapse_spaces: bool = True
    case_strategy: Literal["preserve", "lower", "upper", "title"] = "preserve"
    case_columns: list[str] | None = None
    synonyms: dict[str, dict[str, str]] = Field(default_factory=dict)
    units: dict[str, dict[str, Any]] = Field(default_factory=dict)
    dates_to_iso: bool = True
    day_first: bool | None = Field(None, description="None = detect the day/month order.")
    date_min_parse_ratio: float = Field(
        0.9, gt=0, le=1, description="Share of values that must be dates to rewrite a column."
    )


class DuplicateResolverParams(AgentParams):
    key_columns: list[str] | None = None
    detect_exact: bool = True
    detect_normalized: bool = True
    detect_fuzzy: bool = True
    fuzzy_threshold: float = Field(90, ge=0, le=100)
    strategy: Literal["keep_first", "keep_most_complete", "merge"] = "keep_first"
    fuzzy_window: int = Field(
        6, ge=1, le=50, description="Sorted-neighbourhood window of the fuzzy blocking."
    )


NullStrategy = Literal[
    "auto",
    "none",
    "drop_row",
    "drop_column",
    "mean",
    "median",
    "mode",
    "constant",
    "forward_fill",
    "backward_fill",
    "knn",
]


class NullHandlerParams(AgentParams):
    placeholders: list[str] = Field(default_factory=lambda: list(DEFAULT_NULL_PLACEHOLDERS))
    default_strategy: NullStrategy = "auto"
    strategies: dict[str, NullStrategy] = Field(
        default_factory=dict, description="Column -> strategy (validated before queuing)."
    )
    constants: dict[str, Any] = Field(default_factory=dict)
    drop_column_threshold: float = Field(90, ge=0, le=100)
    knn_neighbors: int = Field(5, ge=1)


class OutlierRemoverParams(AgentParams):
    method: Literal["iqr", "zscore", "percentile"] = "iqr"
    action: Literal["remove", "cap", "impute", "flag"] = "cap"
    iqr_multiplier: float = Field(1.5, gt=0)
    zscore_threshold: float = Field(3.0, gt=0)
    lower_percentile: float = Field(1, ge=0, le=100)
    upper_percentile: float = Field(99, ge=0, le=100)
    columns: list[str] | None = None
    include_ids_and_years: bool = False
    min_values: int = Field(5, ge=2, description="Columns with fewer non-null values are skipped.")


class CleanseWritebackParams(AgentParams):
    min_rows_kept_pct: float = Field(
        50, ge=0, le=100, description="Alert when fewer rows than this % survive."
    )
    include_row_id: bool = Field(
        False, description="Keep the __row_id__ column (input row number) in the cleaned files."
    )
    file_stem: str = Field("cleaned", pattern=r"^[A-Za-z0-9_.-]{1,100}$")
