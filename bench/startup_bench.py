"""What the medcodec.pth start-up hook costs.

1. The hook itself at every interpreter start: `python -X importtime -c pass`, the self time of
   `_medcodec_hook` (target: <= 10 ms; it imports only sys and os).
2. What `import pydicom` costs with and without the automatic install (all plugins registered), measured in
   the same run, median of N fresh interpreters each.

    uv run python bench/startup_bench.py [--runs 15]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time


def hook_import_us(runs: int) -> list[int]:
    samples = []
    for _ in range(runs):
        done = subprocess.run([sys.executable, "-X", "importtime", "-c", "pass"], check=False, capture_output=True, text=True)
        for line in done.stderr.splitlines():
            if line.rstrip().endswith("_medcodec_hook"):
                samples.append(int(line.split("|")[1]))  # cumulative microseconds
    if not samples:
        raise SystemExit("the _medcodec_hook module was not imported: is medcodec installed with its .pth?")
    return samples


def wall_ms(code: str, runs: int, **env: str) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, env={**os.environ, **env})
        times.append((time.perf_counter() - start) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    hook = hook_import_us(args.runs)
    print(f"_medcodec_hook import at start-up: median {statistics.median(hook) / 1000:.3f} ms "
          f"(max {max(hook) / 1000:.3f} ms, target <= 10 ms)")
    bare = wall_ms("pass", args.runs)
    plain = wall_ms("import pydicom", args.runs, MEDCODEC_DISABLE_PLUGIN_AUTOLOAD="1")
    auto = wall_ms("import pydicom", args.runs)
    print(f"interpreter start (python -c pass):        median {statistics.median(bare):7.1f} ms")
    print(f"import pydicom, autoload disabled:         median {statistics.median(plain):7.1f} ms")
    print(f"import pydicom, every plugin registered:   median {statistics.median(auto):7.1f} ms "
          f"(+{statistics.median(auto) - statistics.median(plain):.1f} ms, "
          f"x{statistics.median(auto) / statistics.median(plain):.2f})")


if __name__ == "__main__":
    main()
