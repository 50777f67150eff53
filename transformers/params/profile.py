"""Parameter models of the profile-my-data agents (public API: snake_case, documented defaults)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from transformers.params.base import AgentParams


class UnifiedProfilerParams(AgentParams):
    null_alert_threshold: float = Field(
        50, ge=0, le=100, description="Alert when a column's null % is at or above this."
    )
    categorical_threshold: int = Field(
        20, ge=1, description="A column with at most this many distinct values is categorical."
    )
    top_n_values: int = Field(10, ge=1, le=1000, description="How many top values to report.")
    outlier_iqr_multiplier: float = Field(
        1.5, gt=0, description="Outliers lie beyond Q1 - k*IQR or Q3 + k*IQR."
    )
    outlier_alert_threshold: float = Field(
        5, ge=0, le=100, description="Alert when a column's outlier % is at or above this."
    )


class DriftDetectorParams(AgentParams):
    statistical_test: Literal["ks", "chi2", "wasserstein"] = Field(
        "ks", description="The test that decides drift for numeric columns."
    )
    significance_level: float = Field(0.05, gt=0, lt=1)
    psi_threshold: float = Field(0.1, ge=0)
    min_sample_size: int = Field(100, ge=1)
    psi_bins: int = Field(10, ge=2, le=100, description="Bins for numeric PSI / binned chi2.")
    wasserstein_threshold: float = Field(
        0.1,
        ge=0,
        description="With statistical_test=wasserstein: drift when W / baseline std >= this.",
    )
    min_missing_rate_change: float = Field(
        0.05,
        ge=0,
        le=1,
        description="Missing-rate drift also needs |change| >= this (absolute, 0.05 = 5 points).",
    )
    max_categories: int = Field(
        50, ge=2, description="Categories beyond the most frequent ones are pooled as 'other'."
    )


class ScoreRiskParams(AgentParams):
    sample_size: int | None = Field(
        None, ge=1, description="Rows scanned per column for value patterns (None = all)."
    )
    min_match_ratio: float = Field(
        0.6, gt=0, le=1, description="Share of non-null values that must match a PII pattern."
    )
    stray_pii_rows: bool = Field(
        True,
        description="List single PII values (emails, card numbers, SSNs, IBANs, IPs, phone "
        "numbers) found in text columns that are not PII columns as row-level issues.",
    )


class RangeTest(AgentParams):
    min: float | None = None
    max: float | None = None


class TestCoverageParams(AgentParams):
    __test__ = False  # not a pytest test class
    unique_columns: list[str] = Field(default_factory=list)
    range_tests: dict[str, RangeTest] = Field(default_factory=dict)
    format_tests: dict[str, str] = Field(
        default_factory=dict, description="Column -> regex, anchored at both ends."
    )
    not_null_columns: list[str] = Field(default_factory=list)


class ReadinessRaterParams(AgentParams):
    ready_threshold: float = Field(85, ge=0, le=100)
    review_threshold: float = Field(65, ge=0, le=100)

    @model_validator(mode="after")
    def _ordered(self) -> ReadinessRaterParams:
        if self.review_threshold > self.ready_threshold:
            raise ValueError("review_threshold must not exceed ready_threshold")
        return self


class GovernanceCheckerParams(AgentParams):
    required_metadata: list[str] = Field(
        default_factory=lambda: ["owner", "classification", "retention_days"]
    )
    owner: str | None = None
    classification: Literal["public", "internal", "confidential", "restricted"] | None = None
    retention_days: int | None = Field(None, ge=1)
    allowed_pii_columns: list[str] = Field(default_factory=list)
    max_retention_days_with_pii: int = Field(
        2555, ge=1, description="A longer declared retention for data with PII is flagged."
    )
