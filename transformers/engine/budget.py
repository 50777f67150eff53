"""A task process's memory budget (``WORKER_MEMORY_LIMIT_MB``) and what obeys it.

One setting decides three things:

- which inputs are loaded into memory and which are analysed out of core: a file whose frame
  would need more than the budget (its size times ``IN_MEMORY_EXPANSION``, measured: a 79 MB
  CSV peaked at 1.19 GB through the in-memory reader) goes to a Parquet working copy instead;
- where the working copy and any engine spill files go (``WORKER_SPILL_DIR``);
- each pool's pod memory request and limit (``gateway/cli/infra.py`` renders them from it).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

MIB = 1024 * 1024
#: Peak memory of the in-memory reader and agents per byte of CSV (measured, see module doc).
IN_MEMORY_EXPANSION = 16


@dataclass(frozen=True)
class Budget:
    memory_mb: int
    spill_dir: Path

    @property
    def in_memory_max_bytes(self) -> int:
        """The largest input file analysed in memory; larger ones go out of core."""
        return self.memory_mb * MIB // IN_MEMORY_EXPANSION

    def fits_in_memory(self, file_bytes: int) -> bool:
        return file_bytes <= self.in_memory_max_bytes


def budget_from_settings() -> Budget:
    from core.settings import get_settings

    s = get_settings()
    spill = Path(s.worker_spill_dir) if s.worker_spill_dir else Path(tempfile.gettempdir())
    return Budget(memory_mb=s.worker_memory_limit_mb, spill_dir=spill)


def apply_budget(budget: Budget) -> None:
    """Point the engines' temporary files at the spill directory (polars reads it at use)."""
    budget.spill_dir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("POLARS_TEMP_DIR", str(budget.spill_dir))
