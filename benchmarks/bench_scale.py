"""Out-of-core exact k-NN (issue 16, part a): the streamed search on memory-mapped probes against the in-memory
engine on the same arrays loaded in RAM, per probe, as prediction depth runs it.

30,000 queries against 300,000 support points, k = 30, in probes of dimensions (2048, 512) (``--dims``): synthetic
ReLU-like rows of low intrinsic dimension, like real activations (per cluster of 200 a centre plus a
32-dimensional Gaussian in a random subspace, a little isotropic noise, then ReLU; made with numpy in blocks),
written to ``.npy`` files in a temporary directory (``--dir``; about 3 GB at full size) and memory-mapped.

Each side runs in its own process, so that one's peak memory does not hide in the other's (the streamed one
first, its files only memory-mapped):

- streamed: ``streamed_nearest_neighbours(query, support, k, memory_budget=--budget)`` on ``np.load(path,
  mmap_mode="r")`` (blocks copied from the page cache, their mapped pages released after each block);
- in memory: the arrays loaded with ``np.load`` before the clock starts, then ``nearest_neighbours(query,
  support, k, exact_distances=False)`` (what ``prediction_depth`` calls: the neighbour sets only) and
  ``exact_distances=True`` (float64 distances and (distance, index) order: what the streamed search returns).

Prints per probe the seconds of each and the streamed / in-memory ratios (target: at most 1.15 against
prediction depth's call), whether the neighbour sets are identical (and the ordered lists and distances, against
``exact_distances=True``), the streamed plan (blocks, query chunks, the estimate of one call), and the peak
resident memory of each process (VmRSS sampled every 20 ms; GB here: 2**30 bytes), with the resident memory after
the imports and, in memory, after loading the arrays.

    python benchmarks/bench_scale.py [--queries 30000] [--support 300000] [--dims 2048 512] [--k 30]
        [--budget 1GiB] [--precision auto] [--dir DIR] [--keep]
    python benchmarks/bench_scale.py --queries 2000 --support 20000   # a quick check
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from bench_depth import PeakSampler, resident_gb  # the same memory sampler (this folder is on the path)


def write_synthetic(path: Path, n: int, d: int, seed: int, n_clusters: int = 200, latent: int = 32) -> None:
    """``n`` ReLU-like float32 rows of ``d`` features into the ``.npy`` file ``path``, in blocks: per cluster a
    centre plus a ``latent``-dimensional Gaussian in a random subspace, isotropic noise 0.05, then ReLU. The
    clusters depend on ``d`` only (the same for queries and support); ``seed`` draws the rows."""
    shared = np.random.default_rng(1234 + d)
    centres = shared.standard_normal((n_clusters, d), dtype=np.float32)
    basis = shared.standard_normal((n_clusters, latent, d), dtype=np.float32) / np.float32(latent**0.5)
    rng = np.random.default_rng(seed)
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, d))
    step = max(1, 2**23 // d)
    for i in range(0, n, step):
        m = min(step, n - i)
        counts = np.bincount(rng.integers(0, n_clusters, m), minlength=n_clusters)
        x = rng.standard_normal((m, d), dtype=np.float32)
        x *= np.float32(0.05)
        for c, lo, hi in zip(range(n_clusters), np.cumsum(counts) - counts, np.cumsum(counts), strict=True):
            x[lo:hi] += centres[c] + rng.standard_normal((hi - lo, latent), dtype=np.float32) @ basis[c]
        np.maximum(x, 0.0, out=x)
        out[i : i + m] = x[rng.permutation(m)]  # the clusters mixed again
    out.flush()
    del out


def files(folder: Path, d: int) -> tuple[Path, Path]:
    return folder / f"query_{d}.npy", folder / f"support_{d}.npy"


def worker(args: argparse.Namespace) -> None:
    """One side of the comparison in this process: prints one JSON line of seconds, peaks and plans; writes the
    neighbour indices (and distances) of each probe to ``--dir``."""
    import torch

    from difficulty_widget.measures.knn import nearest_neighbours
    from difficulty_widget.measures.knn_streamed import plan_stream, streamed_nearest_neighbours

    folder, k = Path(args.dir), args.k
    warm_q, warm_s = (
        np.random.default_rng(0).random((300, 64), dtype=np.float32),
        np.random.default_rng(1).random((3000, 64), dtype=np.float32),
    )
    nearest_neighbours(warm_q, warm_s, k, precision=args.precision)  # torch's thread pool, the kernels
    report = {"after_imports": resident_gb(), "threads": torch.get_num_threads(), "probes": []}
    for d in args.dims:
        q_path, s_path = files(folder, d)
        entry: dict = {"dim": d}
        if args.worker == "streamed":
            query, support = np.load(q_path, mmap_mode="r"), np.load(s_path, mmap_mode="r")
            plan = plan_stream(len(query), len(support), d, k, args.budget, precision=args.precision)
            entry["plan"] = plan.__dict__
            with PeakSampler() as sampler:
                started = time.perf_counter()
                nn = streamed_nearest_neighbours(query, support, k, memory_budget=args.budget, precision=args.precision)
                entry["seconds"] = time.perf_counter() - started
            entry["peak"], entry["precision"] = sampler.peak, nn.precision
            np.save(folder / f"streamed_idx_{d}.npy", nn.indices)
            np.save(folder / f"streamed_dist_{d}.npy", nn.sq_distances)
        else:
            started = time.perf_counter()
            query, support = np.load(q_path), np.load(s_path)
            entry["load_seconds"], entry["with_inputs"] = time.perf_counter() - started, resident_gb()
            for exact in (False, True):
                with PeakSampler() as sampler:
                    started = time.perf_counter()
                    nn = nearest_neighbours(query, support, k, exact_distances=exact, precision=args.precision)
                    entry[f"seconds_{exact}"] = time.perf_counter() - started
                entry[f"peak_{exact}"], entry["precision"] = sampler.peak, nn.precision
                np.save(folder / f"memory_idx_{exact}_{d}.npy", nn.indices)
                if exact:
                    np.save(folder / f"memory_dist_{d}.npy", nn.sq_distances)
            del query, support
        report["probes"].append(entry)
    print(json.dumps(report))


def run_worker(kind: str, args: argparse.Namespace) -> dict:
    """Run this script as a worker of ``kind`` in a fresh process; its JSON report."""
    command = [sys.executable, __file__, "--worker", kind, "--dir", args.dir, "--k", str(args.k)]
    command += ["--budget", args.budget, "--precision", args.precision, "--dims", *map(str, args.dims)]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def compare(folder: Path, d: int) -> tuple[bool, bool]:
    """(identical neighbour sets against prediction depth's call, identical ordered lists and distances against
    ``exact_distances=True``) for probe ``d``."""
    streamed = np.load(folder / f"streamed_idx_{d}.npy")
    sets = np.array_equal(np.sort(streamed, axis=1), np.sort(np.load(folder / f"memory_idx_False_{d}.npy"), axis=1))
    ordered = np.array_equal(streamed, np.load(folder / f"memory_idx_True_{d}.npy")) and np.array_equal(
        np.load(folder / f"streamed_dist_{d}.npy"), np.load(folder / f"memory_dist_{d}.npy")
    )
    return sets, ordered


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--queries", type=int, default=30_000)
    parser.add_argument("--support", type=int, default=300_000)
    parser.add_argument("--dims", type=int, nargs="+", default=[2048, 512])
    parser.add_argument("--k", type=int, default=30)
    parser.add_argument("--budget", default="1GiB", help="memory_budget of the streamed search")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--dir", help="folder for the .npy files (default: a temporary one, removed after)")
    parser.add_argument("--keep", action="store_true", help="keep the files (and reuse them if present)")
    parser.add_argument("--worker", choices=["streamed", "memory"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    temporary = args.dir is None
    args.dir = args.dir or tempfile.mkdtemp(prefix="bench_scale_")
    folder = Path(args.dir)
    folder.mkdir(parents=True, exist_ok=True)
    try:
        started = time.perf_counter()
        for d in args.dims:
            for path, n, seed in zip(files(folder, d), (args.queries, args.support), (1, 2), strict=True):
                if not (args.keep and path.is_file() and np.load(path, mmap_mode="r").shape == (n, d)):
                    write_synthetic(path, n, d, seed)
        size = sum(path.stat().st_size for d in args.dims for path in files(folder, d)) / 2**30
        print(f"synthetic ReLU-like probes {args.dims}: {args.queries} queries x {args.support} support, k={args.k}, "
              f"{size:.2f} GB of .npy in {folder} (written in {time.perf_counter() - started:.0f} s)")  # fmt: skip
        streamed, memory = run_worker("streamed", args), run_worker("memory", args)
        print(f"  torch threads {streamed['threads']}, precision={args.precision}, memory_budget={args.budget}")
        print(
            f"  {'probe':>6s} {'streamed':>9s} {'in memory':>10s} {'exact':>7s}   ratio  (exact)  identical sets "
            "(ordered, distances)   blocks x query chunks, estimate"
        )
        total_s = total_m = total_e = 0.0
        for s, m in zip(streamed["probes"], memory["probes"], strict=True):
            d, plan = s["dim"], s["plan"]
            sets, ordered = compare(folder, d)
            total_s, total_m, total_e = (
                total_s + s["seconds"],
                total_m + m["seconds_False"],
                total_e + m["seconds_True"],
            )
            print(f"  {d:6d} {s['seconds']:8.1f}s {m['seconds_False']:9.1f}s {m['seconds_True']:6.1f}s "
                  f"  {s['seconds'] / m['seconds_False']:5.2f}  ({s['seconds'] / m['seconds_True']:4.2f})  "
                  f"{sets!s:5s} ({ordered})  {' ' * 19}{plan['n_blocks']} x {plan['n_query_chunks']} "
                  f"({plan['support_rows']} rows), {plan['estimate'] / 2**30:.2f} GB  [{s['precision']}]")  # fmt: skip
        print(f"  {'all':>6s} {total_s:8.1f}s {total_m:9.1f}s {total_e:6.1f}s   {total_s / total_m:5.2f}  "
              f"({total_s / total_e:4.2f})   target <= 1.15")  # fmt: skip
        peak_s = max(p["peak"] for p in streamed["probes"])
        print(f"  peak resident memory, streamed: {peak_s:.2f} GB ({peak_s - streamed['after_imports']:.2f} GB above "
              f"the {streamed['after_imports']:.2f} GB after the imports)")  # fmt: skip
        for m in memory["probes"]:
            peak = max(m["peak_False"], m["peak_True"])
            print(f"  peak resident memory, in memory, probe {m['dim']}: {peak:.2f} GB (after imports "
                  f"{memory['after_imports']:.2f} GB, with the arrays loaded in {m['load_seconds']:.1f} s: "
                  f"{m['with_inputs']:.2f} GB)")  # fmt: skip
    finally:
        if temporary and not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
