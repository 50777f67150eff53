"""Parameter models of the master-my-data agents."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from transformers.params.base import AgentParams


class KeyIdentifierParams(AgentParams):
    uniqueness_threshold: float = Field(0.95, gt=0, le=1)
    max_composite_size: int = Field(3, ge=1, le=5)


class ContractEnforcerParams(AgentParams):
    derive_if_missing: bool = True
    drop_unknown_columns: bool = False


class SemanticMapperParams(AgentParams):
    name_similarity_threshold: float = Field(80, ge=0, le=100)
    standardize_values: bool = True
    mapping: dict[str, str] = Field(
        default_factory=dict, description="Explicit column -> canonical name overrides."
    )


class GoldenRecordBuilderParams(AgentParams):
    match_columns: list[str] | None = Field(
        None, description="Columns compared for matching (None = detected identity columns)."
    )
    blocking_keys: list[list[str]] | None = Field(
        None, description="Blocking passes, each a list of key expressions (None = automatic)."
    )
    match_threshold: float | None = Field(
        None,
        gt=0,
        le=1,
        description="Posterior match probability (or weighted score) to merge. None: chosen "
        "from the Fellegi-Sunter model, the lowest cut (>= min_match_threshold) whose accepted "
        "pairs are expected, by their posteriors, to be matches at target_precision (0.85 for "
        "the weighted scorer).",
    )
    target_precision: float = Field(
        0.995, gt=0.5, lt=1, description="Expected precision the automatic threshold aims at."
    )
    min_match_threshold: float = Field(
        0.85, ge=0.5, lt=1, description="The automatic threshold never goes below this."
    )
    scoring: Literal["weighted", "fellegi_sunter"] = "fellegi_sunter"
    survivorship_default: str = "most_complete"
    sorted_neighbourhood: list[list[str]] | None = Field(
        None, description="Sorted-neighbourhood passes, each a list of sort columns (None = auto)."
    )
    window_size: int = Field(5, ge=2, le=50, description="Sorted-neighbourhood window.")
    max_block_size: int = Field(
        3,
        ge=2,
        le=10_000,
        description="Single-column (identifier) passes: blocks up to this size are compared "
        "all-pairs, larger ones with the block_window inside them.",
    )
    block_window: int = Field(
        3,
        ge=2,
        le=50,
        description="Pairs per row of a composite or derived blocking key (a neighbourhood: "
        "rows ordered by key then record, each compared with the next block_window - 1, so "
        "the pairs per row do not grow with the blocks); also the window inside an "
        "identifier block larger than max_block_size.",
    )
    comparators: dict[
        str,
        Literal["name", "address", "email", "phone", "identifier", "date", "numeric", "category"],
    ] = Field(default_factory=dict, description="Column -> comparator kind overrides.")
    field_weights: dict[str, float] = Field(
        default_factory=dict, description="Column weights for scoring='weighted' (default 1)."
    )
    min_fields_compared: int = Field(
        2, ge=1, description="Fields present on both sides needed before a pair may match."
    )
    max_cluster_size: int = Field(
        50,
        ge=2,
        le=1_000_000,
        description="Transitive-closure guard: a merge that would make a cluster larger is "
        "refused and reported.",
    )
    term_frequency_adjustments: bool = Field(
        True,
        description="Fellegi-Sunter: weigh exact agreement on a value by how common the value "
        "is (agreeing on 'smith' is weaker evidence than on a rare surname), as Splink does.",
    )
    u_sample_pairs: int = Field(200_000, ge=1_000, le=5_000_000)
    em_max_iterations: int = Field(100, ge=1, le=1_000)
    random_seed: int = 42


class SurvivorshipResolverParams(AgentParams):
    default_rule: Literal[
        "most_recent",
        "source_priority",
        "most_complete",
        "most_frequent",
        "longest",
        "min",
        "max",
        "validated",
    ] = "most_complete"
    rules: dict[str, str] = Field(default_factory=dict)
    timestamp_column: str | None = None
    source_column: str | None = None
    source_priority: list[str] = Field(default_factory=list)


class StewardshipFlaggerParams(AgentParams):
    low_confidence_threshold: float = Field(0.7, ge=0, le=1)
    required_fields: list[str] = Field(default_factory=list)


class LineageTracerParams(AgentParams):
    include_values: bool = False


class MasterWritebackParams(AgentParams):
    output_format: Literal["same", "csv", "parquet"] = "same"
