"""Batch compression speed-up and memory: ``medcodec compress --jobs 1`` against ``--jobs 2`` (and more).

Builds a folder of real images (every corpus image pydicom decodes, see ../shared/corpus/INVENTORY.tsv, each
copy under its own name), runs the real CLI on it once per job count (a fresh output folder each time, the
default lossless 'diagnostic' profile), and reports wall time, speed-up, throughput of native pixel data, and
each worker's peak resident memory -- also as the increase over an idle worker (interpreter, numpy, pydicom and
the codecs loaded) relative to the largest image, the design document's "memory < 2x image size" target.

    uv run python bench/batch_bench.py                 # jobs 1 and 2, corpus copied once, best of 2 rounds
    uv run python bench/batch_bench.py --jobs 1 2 4 --repeat 2 --json bench-batch.json

The machine is shared: the load average before and after each run is printed with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

#: A warm idle worker: interpreter, numpy, pydicom and the codec libraries loaded by compressing pydicom's tiny
#: CT_small once with every lossless standard codec; its peak RSS is the baseline a worker's image memory adds to.
IDLE_WORKER = """
import resource, sys, tempfile
from pathlib import Path
from pydicom.data import get_testdata_file
from medcodec.archive import BatchSettings, FileTask, init_worker, process_file
with tempfile.TemporaryDirectory() as tmp:
    for codec in ("jpeg2000_lossless", "jpeg_ls_lossless", "rle_lossless"):
        init_worker(BatchSettings(codec=codec))
        result = process_file(FileTask(get_testdata_file("CT_small.dcm"), str(Path(tmp) / codec), codec))
        assert result.outcome == "compressed", result
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def build_folder(dest: Path, repeat: int, max_bytes: int) -> tuple[int, int]:
    """Copy decodable corpus images into ``dest`` (``repeat`` times); returns (files, native bytes)."""
    from medcodec.testing.corpus import corpus_inventory, decodable

    files = native = 0
    images = [image for image, _ds in decodable(corpus_inventory(), max_bytes=max_bytes)]
    if not images:
        sys.exit("no corpus images found (is ../shared/corpus present?)")
    for copy in range(repeat):
        for n, image in enumerate(images):
            target = dest / f"copy{copy}" / image.modality / f"{n:03d}_{image.path.name}"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(image.path, target)
            files += 1
            native += image.decoded_bytes
    return files, native


def idle_worker_rss_kib(env: dict[str, str]) -> int:
    done = subprocess.run([sys.executable, "-c", IDLE_WORKER], env=env, capture_output=True, text=True,
                          check=True)
    return int(done.stdout.strip().splitlines()[-1])


def run(src: Path, dst: Path, jobs: int, env: dict[str, str]) -> dict[str, Any]:
    load_before = os.getloadavg()[0]
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "medcodec.cli", "compress", str(src), "-o", str(dst),
                           "--jobs", str(jobs), "--json"], env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)  # the CLI and its workers, once reaped
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    if done.returncode not in (0, 1):
        sys.exit(f"medcodec compress --jobs {jobs} failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout)
    return {"jobs": jobs, "wall_seconds": round(seconds, 2), "cpu_seconds": round(cpu, 2),
            "load_before": load_before,
            "load_after": os.getloadavg()[0], "summary": result["summary"],
            "failed": [f"{f['label']}: {f['message'][:160]}" for f in result["files"]
                       if f["outcome"] in ("failed", "refused")]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeat", type=int, default=1, help="copies of the corpus in the folder")
    parser.add_argument("--rounds", type=int, default=2, help="runs per job count; the fastest is reported")
    parser.add_argument("--max-image-bytes", type=int, default=16_000_000)
    parser.add_argument("--plugins", default="standard", help="MEDCODEC_LOAD_PLUGINS for the runs")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    env = {**os.environ, "MEDCODEC_LOAD_PLUGINS": args.plugins}
    with tempfile.TemporaryDirectory(prefix="medcodec-batch-bench-") as tmp:
        src = Path(tmp) / "src"
        files, native = build_folder(src, args.repeat, args.max_image_bytes)
        idle = idle_worker_rss_kib(env)
        best: dict[int, dict[str, Any]] = {}
        for round_ in range(args.rounds):  # alternate the order: a load change hits every job count alike
            order = args.jobs if round_ % 2 == 0 else list(reversed(args.jobs))
            for jobs in order:
                out = Path(tmp) / f"out{jobs}"
                shutil.rmtree(out, ignore_errors=True)
                result = run(src, out, jobs, env)
                result["all_wall_seconds"] = best.get(jobs, {}).get("all_wall_seconds", []) + [result["wall_seconds"]]
                if jobs not in best or result["wall_seconds"] < best[jobs]["wall_seconds"]:
                    best[jobs] = result
                else:
                    best[jobs]["all_wall_seconds"] = result["all_wall_seconds"]
        runs = [best[jobs] for jobs in args.jobs]
        reference = runs[0]
        same = all(
            (Path(tmp) / f"out{r['jobs']}" / p.relative_to(Path(tmp) / f"out{reference['jobs']}")).read_bytes()
            == p.read_bytes()
            for r in runs[1:] for p in (Path(tmp) / f"out{reference['jobs']}").rglob("*")
            if p.is_file() and p.suffix != ".jsonl"
        )

    largest = max(r["summary"]["largest_image_bytes"] for r in runs)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}; folder: {files} real images, {native / 1e6:.1f} MB native "
          f"pixels, largest image {largest / 1e6:.2f} MB; idle worker RSS {idle / 1024:.1f} MiB")
    print(f"{'jobs':>4} {'wall s':>8} {'CPU s':>7} {'CPU/wall':>8} {'speed-up':>8} {'MB/s':>7} {'ok':>4} {'fail':>4} "
          f"{'peak RSS/worker MiB':>22} {'(peak-idle)/largest':>20} {'load':>11}")
    for r in runs:
        s = r["summary"]
        peaks = list(s["worker_peak_rss_mib"].values())
        growth = max(p * 1024 - idle for p in peaks) * 1024 / largest if largest else 0.0
        r["speed_up"] = round(reference["wall_seconds"] / r["wall_seconds"], 2)
        r["worker_growth_over_largest_image"] = round(growth, 2)
        print(f"{r['jobs']:>4} {r['wall_seconds']:>8.2f} {r['cpu_seconds']:>7.2f} "
              f"{r['cpu_seconds'] / r['wall_seconds']:>8.2f} {r['speed_up']:>8.2f} "
              f"{native / 1e6 / r['wall_seconds']:>7.2f} {s['outcomes'].get('compressed', 0):>4} "
              f"{s['outcomes'].get('failed', 0) + s['outcomes'].get('refused', 0):>4} "
              f"{', '.join(f'{p:.0f}' for p in peaks):>22} {growth:>20.2f} "
              f"{r['load_before']:>5.2f}->{r['load_after']:<5.2f}")
    print(f"outputs identical across job counts: {same}; wall seconds of every round: "
          + "; ".join(f"jobs {r['jobs']}: {', '.join(map(str, r['all_wall_seconds']))}" for r in runs))
    for r in runs[:1]:
        for failure in r["failed"]:
            print(f"  not compressed (jobs={r['jobs']}): {failure}")
    if args.json:
        args.json.write_text(json.dumps({"files": files, "native_bytes": native, "idle_worker_rss_kib": idle,
                                         "largest_image_bytes": largest, "identical_outputs": same,
                                         "cpus": os.cpu_count(), "runs": runs}, indent=2))


if __name__ == "__main__":
    main()
