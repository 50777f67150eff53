"""``python -m bench [name ...]``: run every ``bench/bench_*.py`` (or the named ones).

Each module exposes ``main() -> None`` that prints its own table and ratios.
"""

from __future__ import annotations

import importlib
import signal
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    # A SIGTERM (timeout, Ctrl-C from a supervisor) unwinds like an exception, so every part's
    # ``finally`` stops the services it started instead of leaving them running.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    names = argv or sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))
    for name in names:
        module = importlib.import_module(f"bench.bench_{name}")
        print(f"\n######## bench {name}")
        t0 = time.perf_counter()
        module.main()
        print(f"######## bench {name} done in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
