"""Make the repository root importable for these tests (``transformers``, ``tests...helpers``)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import polars as pl
import pytest

ROOT = Path(__file__).resolve().parents[3]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


# Every profile agent test runs twice: on the in-memory frame, and on a ScanFrame over the
# same data written to Parquet (the out-of-core path large inputs take). The assertions are
# the same, so the two paths are held to the same numbers.


PROFILE_MODULES = (
    "unified_profiler",
    "drift_detector",
    "score_risk",
    "test_coverage",
    "readiness_rater",
    "governance_checker",
)


@pytest.fixture(params=["in-memory", "out-of-core"], autouse=True)
def frame_path(request, monkeypatch, tmp_path_factory) -> str:
    if request.param == "out-of-core":
        from transformers.engine.scan import ScanFrame

        folder = tmp_path_factory.mktemp("scan")
        written: dict[int, ScanFrame] = {}

        def as_scan(frame):
            if not isinstance(frame, pl.DataFrame):
                return frame
            if id(frame) not in written:
                path = folder / f"frame-{len(written)}.parquet"
                frame.write_parquet(path)
                written[id(frame)] = ScanFrame(path)
            return written[id(frame)]

        for name in PROFILE_MODULES:
            module = importlib.import_module(f"transformers.agents.profile.{name}")
            original = module.run

            def run(frame, params, ctx, _original=original):
                ctx.frames = {role: as_scan(f) for role, f in ctx.frames.items()}
                return _original(as_scan(frame), params, ctx)

            monkeypatch.setattr(module, "run", run)
    return request.param
