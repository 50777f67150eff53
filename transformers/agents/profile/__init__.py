"""The profile-my-data agents (they all read the same input; see ``registry.PROFILE``)."""

from transformers.agents.profile import (
    drift_detector,
    governance_checker,
    readiness_rater,
    score_risk,
    test_coverage,
    unified_profiler,
)
from transformers.contract import AgentFn

AGENTS: dict[str, AgentFn] = {
    "unified-profiler": unified_profiler.run,  # type: ignore[dict-item]
    "drift-detector": drift_detector.run,  # type: ignore[dict-item]
    "score-risk": score_risk.run,  # type: ignore[dict-item]
    "test-coverage-agent": test_coverage.run,  # type: ignore[dict-item]
    "readiness-rater": readiness_rater.run,  # type: ignore[dict-item]
    "governance-checker": governance_checker.run,  # type: ignore[dict-item]
}
