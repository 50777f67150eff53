"""The out-of-core matching path gives the results of the in-memory one.

Candidate pairs spilled to disk in parts, pairs compared and stored by batch, EM and the m
refinement on grouped pairs, clusters from connected components, golden records by one
group-by and lineage streamed by slices: each is checked against the plain computation it
replaces (small inputs force the large-input path: tiny batches, a tiny memory budget)."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from tests.transformers.master.chain import run_chain
from transformers.agents.master import golden_record_builder, lineage_tracer, master_writeback
from transformers.agents.master.er import blocking, clustering, scoring

FEBRL_COLUMNS = [
    "given_name",
    "surname",
    "street_number",
    "address_1",
    "address_2",
    "suburb",
    "postcode",
    "state",
    "date_of_birth",
    "soc_sec_id",
]


def _builder_run(frame: pl.DataFrame, path: Path) -> pl.DataFrame:
    run = run_chain(
        frame,
        path,
        parameters={"golden-record-builder": {"match_columns": FEBRL_COLUMNS}},
        agents=["golden-record-builder"],
    )
    return run.frames["golden-record-builder"]


def test_spilled_batches_give_the_in_memory_clusters(
    febrl1, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    frame, _truth = febrl1
    in_memory = _builder_run(frame, tmp_path / "memory")

    stored: list[int] = []
    real_add = golden_record_builder._PairStore.add

    def add(self: golden_record_builder._PairStore, *args: np.ndarray) -> None:
        real_add(self, *args)
        stored.append(sum(isinstance(b, Path) for b in self.batches))

    # many small parts on disk, no pair batch kept in memory, group tables merged often
    monkeypatch.setattr(blocking, "BATCH_PAIRS", 2_000)
    monkeypatch.setenv("WORKER_MEMORY_LIMIT_MB", "1")
    monkeypatch.setattr(golden_record_builder._PairStore, "add", add)
    monkeypatch.setattr(golden_record_builder._PairGroups, "MERGE_ROWS", 500)
    spilled = _builder_run(frame, tmp_path / "spilled")

    assert len(stored) > 5 and stored[-1] >= len(stored) // 2  # most batches went to disk
    cols = ["cluster_id", "source_count", "trust_score", "match_score"]
    assert spilled.select(cols).equals(in_memory.select(cols))
    assert not list((tmp_path / "spilled").rglob("*.npz"))  # the spill is removed


def test_pair_spill_deduplicates_across_passes_and_parts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(blocking, "BATCH_PAIRS", 10_000)
    rng = np.random.default_rng(3)
    n = 5_000
    a, b = rng.integers(0, n, 60_000), rng.integers(0, n, 60_000)
    want = {(min(x, y), max(x, y)) for x, y in zip(a.tolist(), b.tolist(), strict=True) if x != y}
    spill = blocking.PairSpill(n, expected=60_000, directory=tmp_path)
    for lo, hi in ((0, 20_000), (20_000, 60_000), (0, 30_000)):  # overlapping "passes"
        spill.add(a[lo:hi], b[lo:hi])
    batches = list(spill.batches())
    assert len(batches) > 1
    got = [(int(x), int(y)) for left, right in batches for x, y in zip(left, right, strict=True)]
    assert len(got) == len(set(got)) and set(got) == want
    for left, right in batches:
        assert (left < right).all()
        assert np.all(np.diff(left.astype(np.int64) * n + right) > 0)  # sorted
    assert not any(tmp_path.iterdir())


def test_key_pass_pairs_per_row_do_not_depend_on_block_sizes() -> None:
    """A composite key from a fixed value set: its blocks grow with N, yet each keyed row
    takes window - 1 pairs, at 2,000 rows as at 64,000."""
    per_row = []
    for n in (2_000, 64_000):
        rng = np.random.default_rng(0)
        text = pl.Series([f"k{v}" for v in rng.integers(0, 300, n)])
        dicts = {"c": blocking.Dictionary.of(text)}
        key = [blocking.parse_key("first(c, 3)"), blocking.parse_key("c")]
        blocked = blocking.candidate_pairs(dicts, ["c"], [key], [], 5, 3, n, 3)
        per_row.append(len(blocked.left) / n)
    assert per_row[0] == pytest.approx(2.0, abs=0.01)
    assert per_row[1] == pytest.approx(per_row[0], rel=0.01)


def test_compared_pairs_per_row_stay_flat_when_rows_quadruple(tmp_path: Path) -> None:
    from bench.bench_master import generate, read_csv

    per_row = []
    for n in (20_000, 80_000):
        path = tmp_path / f"persons_{n}.csv"
        generate(n, path)
        frame = read_csv(path).drop("entity")
        run = run_chain(frame, tmp_path / str(n), agents=["golden-record-builder"])
        per_row.append(run.results["golden-record-builder"].summary_metrics["candidate_pairs"] / n)
    assert abs(per_row[1] / per_row[0] - 1) <= 0.1, per_row


def test_em_and_refinement_on_grouped_pairs_equal_the_per_pair_fit() -> None:
    rng = np.random.default_rng(5)
    n_levels = [4, 4, 3, 2]
    pairs = 30_000
    levels = np.stack([rng.integers(-1, nl, pairs) for nl in n_levels], axis=1).astype(np.int8)
    levels[:600] = [3, 3, 2, 1]  # duplicates
    adjustment = rng.choice([0.0, 0.7, -1.2], pairs).astype(np.float32)
    common = (adjustment < 0).astype(np.int8)
    u = [np.array([0.9, 0.05, 0.03, 0.02]), np.array([0.9, 0.05, 0.03, 0.02])]
    u += [np.array([0.95, 0.03, 0.02]), np.array([0.99, 0.01])]
    per_pair = scoring.em(levels, n_levels, u, adjustment=adjustment, common=common)

    frame = pl.DataFrame({f"l{k}": levels[:, k] for k in range(4)} | {"a": adjustment, "c": common})
    g = frame.group_by(frame.columns).len().sort(frame.columns)
    g_levels = np.stack([g[f"l{k}"].to_numpy() for k in range(4)], axis=1).astype(np.int8)
    grouped = scoring.em(
        g_levels,
        n_levels,
        u,
        adjustment=g["a"].to_numpy(),
        common=g["c"].to_numpy(),
        weights=g["len"].to_numpy().astype(np.float64),
    )
    assert g.height < pairs / 10
    assert grouped.lam == pytest.approx(per_pair.lam, rel=1e-9)
    for a, b in zip(grouped.m, per_pair.m, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-9)

    shifts: list[np.ndarray | None] = [adjustment, None, None, None]
    g_shifts: list[np.ndarray | None] = [g["a"].to_numpy(), None, None, None]
    r1 = scoring.refine_m(levels, n_levels, per_pair, shifts)
    r2 = scoring.refine_m(g_levels, n_levels, grouped, g_shifts, weights=g["len"].to_numpy())
    for a, b in zip(r1.m, r2.m, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def _kruskal(n: int, left: np.ndarray, right: np.ndarray, prob: np.ndarray, cap: int) -> tuple:
    roots, trust_root, joined, refused = clustering._sequential(n, left, right, prob, cap)
    label = np.full(n, n)
    np.minimum.at(label, roots, np.arange(n))
    trust = np.ones(n)
    for root, t in trust_root.items():
        trust[root] = t
    return label[roots], trust[roots], joined, refused


def test_components_give_the_capped_kruskal_clusters() -> None:
    rng = np.random.default_rng(11)
    for trial in range(150):
        n = int(rng.integers(2, 80))
        m = int(rng.integers(0, 160))
        a, b = rng.integers(0, n, m), rng.integers(0, n, m)
        code = np.unique(np.minimum(a, b)[a != b] * n + np.maximum(a, b)[a != b])
        left, right = code // n, code % n
        prob = np.round(rng.uniform(0.5, 1.0, left.size), 2)  # ties included
        cap = int(rng.integers(2, 8)) if trial % 2 else None
        got = clustering.cluster(n, left, right, prob, max_size=cap)
        label, trust, joined, refused = _kruskal(n, left, right, prob, cap or n)
        assert got.label.tolist() == label.tolist()
        np.testing.assert_allclose(got.trust, trust)
        assert (got.joining_edges, got.refused_merges) == (joined, refused)


def test_streamed_lineage_and_cross_reference_are_the_whole_tables(
    febrl1, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    frame, _ = febrl1
    monkeypatch.setattr(lineage_tracer, "SLICE_ROWS", 37)
    monkeypatch.setattr(master_writeback, "XREF_SLICE", 101)
    run = run_chain(frame, tmp_path, parameters={"lineage-tracer": {"include_values": True}})
    golden = run.frames["survivorship-resolver"]
    rules = run.results["survivorship-resolver"].data["rules"]
    table = lineage_tracer.lineage_table(golden, rules, True)
    written = pl.read_csv(tmp_path / "master-writeback-agent" / "lineage.csv", infer_schema=False)
    assert written.equals(table.select(pl.all().cast(pl.String)))
    xref = (
        golden.select(
            pl.col("__members__").alias("source_row_id"),
            pl.col("cluster_id").alias("golden_id"),
            "source_count",
            "trust_score",
        )
        .explode("source_row_id")
        .sort("source_row_id")
    )
    written = pl.read_csv(
        tmp_path / "master-writeback-agent" / "cross_reference.csv", infer_schema=False
    )
    assert written.equals(xref.select(pl.all().cast(pl.String)))
    assert written.height == frame.height
    result = run.results["lineage-tracer"]
    assert result.data["sample"] == table.head(lineage_tracer.SAMPLE_ROWS).to_dicts()
    assert result.summary_metrics["lineage_rows"] == table.height
    for entry in result.data["fields"]:
        part = table.filter(pl.col("field") == entry["field"])
        assert entry["traced"] == part["source_row_id"].is_not_null().sum()
        assert entry["mean_confidence"] == round(float(part["confidence"].mean()), 6)  # type: ignore[arg-type]


def test_golden_records_do_not_depend_on_row_order(febrl1, tmp_path: Path) -> None:
    from transformers.agents.master.survivorship_resolver import collapse

    frame, _ = febrl1
    clustered = _builder_run(frame, tmp_path)
    golden, _, stats = collapse(clustered)
    shuffled, _, stats2 = collapse(clustered.sample(fraction=1.0, shuffle=True, seed=2))
    assert shuffled.equals(golden) and stats2 == stats
    assert golden["cluster_id"].is_sorted()
    members = golden["__members__"].explode().sort()
    assert members.to_list() == clustered["__row_id__"].sort().to_list()
    multi = golden.filter(pl.col("source_count") > 1)
    assert multi.height > 100
    for row in itertools.islice(multi.iter_rows(named=True), 50):
        assert row["source_count"] == len(row["__members__"])
        assert row["cluster_id"] == min(row["__members__"])


def test_memory_budget_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    from transformers.agents.master._common import DEFAULT_MEMORY_BUDGET_MB, memory_budget_mb

    monkeypatch.setenv("WORKER_MEMORY_LIMIT_MB", "2048")
    assert memory_budget_mb() == 2048
    for bad in ("", "lots", "-5", "0"):
        monkeypatch.setenv("WORKER_MEMORY_LIMIT_MB", bad)
        assert memory_budget_mb() == DEFAULT_MEMORY_BUDGET_MB


def test_pair_groups_one_key_equals_one_column_per_field() -> None:
    rng = np.random.default_rng(8)
    n, pairs = 2_000, 40_000
    n_levels = [4, 4, 2]
    codes = [rng.integers(-1, 30, n).astype(np.int32) for _ in n_levels]
    counts = [np.bincount(c[c >= 0]) for c in codes[:2]] + [None]
    batches = []
    for _ in range(4):
        left = rng.integers(0, n, pairs // 4)
        levels = np.stack([rng.integers(-1, nl, left.size) for nl in n_levels], axis=1)
        batches.append((levels.astype(np.int8), left))
    results = []
    for compact in (True, False):
        groups = golden_record_builder._PairGroups(n_levels, counts, codes)
        assert groups.compact  # this key fits one int64
        if not compact:
            groups.compact = False
            groups.keys = ["l0", "l1", "l2", "t0", "t1"]
        groups.MERGE_ROWS = 300
        for levels, left in batches:
            groups.add(levels, left)
        lv, lf, w = groups.result()
        results.append(
            sorted((*r, int(a), float(b)) for r, a, b in zip(lv.tolist(), lf, w, strict=True))
        )
    assert results[0] == results[1]
    assert sum(r[-1] for r in results[0]) == pairs
