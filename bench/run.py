"""`make bench`: run every bench/bench_*.py in turn; each prints its own figures and ratios."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    """Run the benchmarks; return non-zero when one of them fails."""
    failed = 0
    for path in sorted(HERE.glob("bench_*.py")):
        print(f"== {path.name}", flush=True)
        failed |= subprocess.call([sys.executable, str(path)], cwd=HERE.parent) != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
