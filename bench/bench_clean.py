"""clean-my-data: the full agent chain vs a hand-written pandas pipeline on 1,000,000 dirty rows.

Data (generated once, cached under ``var/bench/``): placeholder nulls, numbers with thousands
separators and currency signs, dates in three formats (day first), extra spaces, exact, case
and one-typo duplicates, outliers, constraint breakers and injection-looking strings.

Both sides run in their own process (peak RSS is theirs alone) and do the same steps: read all
columns as text, quarantine (required, range, format, injection), convert types, standardise
text, resolve exact/normalised/fuzzy duplicates, fill missing values, cap IQR outliers, write the
cleaned CSV and a full change log. The chain also runs the cleanse-previewer (a full simulation
of the six data-changing agents) unless ``--no-preview`` is noted in the label.
"""

from __future__ import annotations

import json
import sys

from bench._util import BENCH_DIR, Measured, print_table, ratio, run_measured

ROWS = 1_000_000
SEED = 11

PARAMS = {
    "quarantine-agent": {
        "required_fields": ["customer_id", "email"],
        "range_constraints": {"age": {"min": 0, "max": 120}},
        "format_constraints": {"zip": r"\d{5}"},
    },
    "type-fixer": {"day_first": True},
    "field-standardization": {"day_first": True},
    "duplicate-resolver": {"key_columns": ["customer_id", "name", "email", "city"]},
}


def generate(path: str, rows: int = ROWS) -> None:
    import numpy as np
    import polars as pl

    rng = np.random.default_rng(SEED)
    base = rows
    first = np.array(["Alice", "Bruno", "Chloe", "Daniel", "Emma", "Farid", "Gina", "Hugo"])
    last = np.array(["Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit"])
    cities = np.array(["Paris", "Lyon", "Marseille", "Toulouse", "Nantes", "Lille"])
    comments = np.array(
        ["Great service", "please update my address", "I'd like to drop by", "Late", ""]
    )
    idx = np.arange(base)
    amount = rng.integers(100_00, 10_000_00, base) / 100
    days = rng.integers(0, 1500, base)
    df = pl.DataFrame(
        {
            "customer_id": idx,
            "fi": rng.integers(0, len(first), base),
            "la": rng.integers(0, len(last), base),
            "city": cities[rng.integers(0, len(cities), base)],
            "amount": amount,
            "day": days,
            "age": rng.integers(18, 90, base),
            "zip": rng.integers(1, 99999, base),
            "comment": comments[rng.integers(0, len(comments), base)],
            "u": rng.random(base),
            "v": rng.random(base),
        }
    )
    d = pl.date(2021, 1, 1) + pl.duration(days=pl.col("day"))
    out = df.select(
        pl.format("C{}", pl.col("customer_id").cast(pl.String).str.zfill(7)).alias("customer_id"),
        pl.format(
            "{} {} {}",
            pl.col("fi").replace_strict(dict(enumerate(first)), return_dtype=pl.String),
            pl.col("la").replace_strict(dict(enumerate(last)), return_dtype=pl.String),
            pl.col("customer_id"),
        ).alias("name"),
        pl.format("user{}@Example.com", pl.col("customer_id")).alias("email"),
        pl.when(pl.col("u") < 0.01)
        .then(pl.lit("N/A"))
        .when(pl.col("u") < 0.03)
        .then(pl.format("  {}  ", pl.col("city")))
        .otherwise(pl.col("city"))
        .alias("city"),
        pl.when(pl.col("v") < 0.005)
        .then(pl.lit("N/A"))
        .when(pl.col("v") < 0.01)
        .then(pl.lit("-"))
        .when(pl.col("v") < 0.011)
        .then(pl.lit("99999999.5"))
        .when(pl.col("v") < 0.06)
        .then(
            pl.format(
                "{},{}",
                (pl.col("amount") // 1000).cast(pl.Int64),
                (pl.col("amount") % 1000)
                .round(2)
                .map_elements(lambda x: f"{x:06.2f}", return_dtype=pl.String),
            )
        )
        .otherwise(pl.col("amount").cast(pl.String))
        .alias("amount"),
        pl.when(pl.col("u") < 0.25)
        .then(d.dt.strftime("%d/%m/%Y"))
        .when(pl.col("u") < 0.4)
        .then(d.dt.strftime("%-d %b %Y"))
        .otherwise(d.dt.strftime("%Y-%m-%d"))
        .alias("signup_date"),
        pl.when(pl.col("v") > 0.999)
        .then(pl.lit("150"))
        .otherwise(pl.col("age").cast(pl.String))
        .alias("age"),
        pl.when(pl.col("v").is_between(0.5, 0.5005))
        .then(pl.lit("ABCDE"))
        .otherwise(pl.col("zip").cast(pl.String).str.zfill(5))
        .alias("zip"),
        pl.when(pl.col("v").is_between(0.7, 0.7001))
        .then(pl.lit("x'; DROP TABLE users; --"))
        .otherwise(pl.col("comment"))
        .alias("comment"),
    )
    # duplicates: 2% exact, 1% case/space variants, 0.5% one typo in the name
    n_exact, n_var, n_fuzzy = rows // 50, rows // 100, rows // 200
    src = rng.choice(base, n_exact + n_var + n_fuzzy, replace=False)
    exact = out[src[:n_exact].tolist()]
    var = out[src[n_exact : n_exact + n_var].tolist()].with_columns(
        pl.col("name").str.to_uppercase(), pl.col("city").str.to_lowercase()
    )
    fuzzy = out[src[n_exact + n_var :].tolist()].with_columns(
        (pl.col("name").str.slice(0, 3) + pl.col("name").str.slice(4)).alias("name")
    )
    full = pl.concat([out, exact, var, fuzzy])
    order = rng.permutation(full.height)
    full = full[order.tolist()].head(rows)
    full.write_csv(path)


CHAIN_CODE = r"""
import json, sys, time, tempfile, pathlib
import polars as pl
from transformers.agents.clean import AGENTS, CHAIN
from transformers.contract import AgentContext, InputInfo, ROW_ID
from transformers.registry import CLEAN
path, params, preview = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3] == "1"
t0 = time.perf_counter()
frame = pl.read_csv(path, infer_schema_length=0)
frame = frame.with_row_index(ROW_ID).with_columns(pl.col(ROW_ID).cast(pl.Int64))
t_read = time.perf_counter() - t0
work = pathlib.Path(tempfile.mkdtemp())
results, aliases, current, timings = {}, {}, frame, {}
for agent_id in CHAIN:
    if agent_id == "cleanse-previewer" and not preview:
        continue
    p = params.get(agent_id, {})
    if agent_id == "cleanse-previewer":
        p = {"agent_parameters": params}
    model = CLEAN.agent(agent_id).params.model_validate(p)
    d = work / agent_id
    d.mkdir()
    ctx = AgentContext("t", "t", "clean-my-data", agent_id, {"primary": frame},
                       {"primary": InputInfo("primary", "in.csv", "csv")}, d, results, aliases)
    t = time.perf_counter()
    res = AGENTS[agent_id](current, model, ctx)
    timings[agent_id] = round(time.perf_counter() - t, 2)
    assert str(res.status) == "success", (agent_id, res.error)
    if res.frame is not None:
        current = res.frame
    results[agent_id] = res
wb = results["cleanse-writeback"].data
print(json.dumps({"read_s": round(t_read, 2), "agents": timings, "rows_out": wb["rows_out"],
                  "arithmetic": wb["row_arithmetic"], "ok": wb["row_arithmetic_ok"],
                  "changes": wb["changes_logged"]}))
"""

PANDAS_CODE = r"""
import json, re, sys, time, tempfile, pathlib, warnings
warnings.simplefilter("ignore", FutureWarning)
import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process
path = sys.argv[1]
t0 = time.perf_counter()
df = pd.read_csv(path, dtype=str, keep_default_na=False)
df.insert(0, "__row_id__", np.arange(len(df), dtype=np.int64))
t_read = time.perf_counter() - t0
orig = df.copy()
changes = []
def log_cells(agent, col, before, after, rule):
    b = before.astype("string")
    a = after.astype("string")
    diff = ~((b == a).fillna(False) | (b.isna() & a.isna()))
    if diff.any():
        changes.append(pd.DataFrame({"agent_id": agent, "kind": "cell", "rule": rule,
            "row_id": df.loc[diff[diff].index, "__row_id__"].values, "column": col,
            "before": b[diff].values, "after": a[diff].values}))
def log_rows(agent, kind, rows, reason):
    changes.append(pd.DataFrame({"agent_id": agent, "kind": kind, "rule": kind,
        "row_id": rows["__row_id__"].values, "column": None,
        "before": rows.drop(columns="__row_id__")
                      .to_json(orient="records", lines=True).splitlines(),
        "after": None, "reason": reason}))
PH = {"", "n/a", "na", "null", "none", "-", "--", "?", "nan", "missing"}
# quarantine
miss = lambda s: s.str.strip().str.lower().isin(PH)
bad = miss(df["customer_id"]) | miss(df["email"])
age = pd.to_numeric(df["age"].str.replace(",", ""), errors="coerce")
bad |= (~miss(df["age"])) & (age.isna() | (age < 0) | (age > 120))
bad |= (~miss(df["zip"])) & ~df["zip"].str.fullmatch(r"\d{5}")
inj = (r"(?i)(?:;\s*(?:drop|truncate|alter)\s+(?:table|database)\b"
       r"|\bunion\s+(?:all\s+)?select\b|<\s*script\b|javascript\s*:|^\s*=)")
for c in df.columns[1:]:
    bad |= df[c].str.contains(inj, regex=True)
log_rows("quarantine-agent", "row_quarantined", df[bad], "quarantine")
df = df[~bad].reset_index(drop=True)
# type fixer
num_re = r"^[+-]?[$€£¥]?\s?[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?$"
for c in ["amount", "age"]:
    s = df[c].str.strip()
    ph = s.str.lower().isin(PH)
    ok = s.str.match(num_re)
    if (ok | ph).all():
        new = pd.to_numeric(s.where(ok).str.replace(r"[$€£¥,\s]", "", regex=True), errors="coerce")
        if c == "age":
            new = new.astype("Int64")
        log_cells("type-fixer", c, df[c], new, "convert")
        df[c] = new
s = df["signup_date"].str.strip()
parsed = pd.to_datetime(s, format="%Y-%m-%d", errors="coerce")
for fmt in ("%d/%m/%Y", "%d %b %Y"):
    parsed = parsed.fillna(pd.to_datetime(s, format=fmt, errors="coerce"))
new = parsed.dt.strftime("%Y-%m-%d")
log_cells("type-fixer", "signup_date", df["signup_date"], new, "to_date")
df["signup_date"] = parsed
# standardise
for c in ["customer_id", "name", "email", "city", "zip", "comment"]:
    new = df[c].str.strip().str.replace(r"\s+", " ", regex=True)
    log_cells("field-standardization", c, df[c], new, "trim")
    df[c] = new
# duplicates: exact, normalised, fuzzy (sorted neighbourhood on the name, as the agent)
keys = ["customer_id", "name", "email", "city"]
norm = pd.DataFrame({c: df[c].str.lower().str.replace(r"[^\w\s]", "", regex=True)
                     .str.replace(r"\s+", " ", regex=True).str.strip() for c in keys})
rep = norm.duplicated(keep="first")
first = ~rep
key = norm[first].agg("\x1f".join, axis=1)
pos = np.nonzero(first.values)[0]
dup = rep.values.copy()
for rev in (False, True):
    sk = key.str[::-1] if rev else key
    order = np.argsort(sk.values, kind="stable")
    ordered = key.values[order].tolist()
    for k in range(1, 7):
        sc = process.cpdist(ordered[:-k], ordered[k:], scorer=fuzz.ratio,
                            score_cutoff=90, workers=-1)
        for i in np.nonzero(sc >= 90)[0]:
            a, b = pos[order[i]], pos[order[i + k]]
            ra, rb = norm.iloc[a], norm.iloc[b]
            if all(x == y or fuzz.ratio(x, y) >= 90 for x, y in zip(ra, rb)):
                dup[max(a, b)] = True
dupm = pd.Series(dup, index=df.index)
log_rows("duplicate-resolver", "row_removed", df[dupm], "duplicate")
df = df[~dupm].reset_index(drop=True)
# nulls
for c in ["city", "comment"]:
    ph = df[c].str.strip().str.lower().isin(PH)
    new = df[c].where(~ph)
    if c == "city":
        new = new.fillna(new.mode().iloc[0])
    log_cells("null-handler", c, df[c], new, "null")
    df[c] = new
new = df["amount"].fillna(df["amount"].median())
log_cells("null-handler", "amount", df["amount"], new, "median")
df["amount"] = new
# outliers: IQR cap
for c in ["amount", "age"]:
    q1, q3 = df[c].quantile(0.25), df[c].quantile(0.75)
    lo, hi = q1 - 1.5 * (q3 - q1), q3 + 1.5 * (q3 - q1)
    new = df[c].clip(lo, hi) if c == "amount" else df[c].clip(int(np.ceil(lo)), int(np.floor(hi)))
    log_cells("outlier-remover", c, df[c], new, "cap")
    df[c] = new
# write
work = pathlib.Path(tempfile.mkdtemp())
df.drop(columns="__row_id__").to_csv(work / "cleaned.csv", index=False, date_format="%Y-%m-%d")
log = pd.concat(changes, ignore_index=True)
log.to_csv(work / "change_log.csv", index=False)
print(json.dumps({"read_s": round(t_read, 2), "rows_out": len(df), "changes": len(log)}))
"""


def main() -> None:
    folder = BENCH_DIR / "clean"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"clean_dirty_{ROWS}.csv"
    if not path.exists():
        print(f"generating {path} ...")
        generate(str(path))
    params = json.dumps(PARAMS)
    rows: list[Measured] = []
    chain = run_measured("polars chain (with previewer)", CHAIN_CODE, str(path), params, "1")
    rows.append(chain)
    print(f"  {chain.label}: {chain.wall_s:.1f} s, {chain.peak_rss_mb:.0f} MiB", flush=True)
    chain_np = run_measured("polars chain (no previewer)", CHAIN_CODE, str(path), params, "0")
    rows.append(chain_np)
    m = chain_np
    print(f"  {m.label}: {m.wall_s:.1f} s, {m.peak_rss_mb:.0f} MiB", flush=True)
    pandas = run_measured("pandas hand-written pipeline", PANDAS_CODE, str(path))
    rows.append(pandas)
    print_table(f"clean-my-data, {ROWS:,} rows", rows)
    for m in rows:
        print(f"  {m.label}: {m.stdout.strip()}")
    print(f"  speed vs pandas (no previewer): {ratio(pandas.wall_s, chain_np.wall_s)}")
    print(f"  speed vs pandas (with previewer): {ratio(pandas.wall_s, chain.wall_s)}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "generate":
        generate(sys.argv[2], int(sys.argv[3]))
    else:
        main()
