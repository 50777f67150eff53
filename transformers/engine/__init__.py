"""The out-of-core engine: a worker's memory budget and the Parquet working copy agents scan.

- ``budget``: ``WORKER_MEMORY_LIMIT_MB`` and what obeys it (polars' streaming chunk size, the
  spill directory, the size above which an input is not loaded into memory);
- ``scan``: ``ScanFrame``, a Parquet working copy that answers the part of ``pl.DataFrame`` the
  read-only (profile) agents use, by lazy scans with polars' streaming engine.

See docs/out-of-core.md for the measurements behind the choice of engine.
"""
