"""Small helpers shared by the benchmarks: timing, medians, tables, servers."""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the Oxigraph server fixture class, the shared-data setting

from conftest import shared_data_dir, shared_data_missing  # noqa: E402

#: The real data the benches read: $TRAITKG_SHARED_DATA, default ../shared/data (same setting as the tests).
SHARED = shared_data_dir()
if not SHARED.is_dir():
    sys.exit(f"{Path(sys.argv[0]).name}: the benches read the shared data; {shared_data_missing(SHARED)}")


def timed(fn: Callable[[], object], repeat: int = 3) -> tuple[float, list[float]]:
    """Run ``fn`` ``repeat`` times; return (median seconds, all timings)."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times


def table(title: str, header: list[str], rows: list[list[object]]) -> None:
    cells = [[f"{c:,.3f}" if isinstance(c, float) else (f"{c:,}" if isinstance(c, int) else str(c)) for c in r]
             for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(header)]
    print(f"\n{title}")
    print("  ".join(h.ljust(w) for h, w in zip(header, widths)))
    print("  ".join("-" * w for w in widths))
    for r in cells:
        print("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))))
    sys.stdout.flush()
