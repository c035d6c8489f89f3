"""Issue 16, parts (b) and (c) of the scale benchmark (part (a), out-of-core against in memory, is
``bench_scale.py``).

(b) The Ray engine's overhead: one exact k-NN job (``--queries`` x ``--support`` rows of ``--dim`` ReLU-like
values, k = 30, arrays in memory) run by ``LocalExecutor`` (this process, every core) and by ``RayExecutor`` on
a local cluster of this machine's cores: 1 worker with every CPU, 2 workers replicated (1 CPU each) and 2 workers
sharded. Prints seconds, the ratio to the local run measured in the same run, and whether the neighbour lists
and float64 distances are identical. The cluster's start and the actors' first start are timed apart (a
search on a small warm-up job first).

(c) The cost model (:mod:`difficulty_widget.pipeline.cost`) for ImageNet (1,281,167 training + 50,000 validation
images) with ResNet-50's default probes (traced on a torchvision ResNet-50 with random weights at 224 px, pooled
to at most 4096 values): storage, flop, and hours on N CPU cores at the rate measured here per core (the exact
search with ``precision="auto"`` and with ``"fp32"``, on a 2048-value probe), and on N GPUs at ``--gpu-rate``
(flop/s of the exact search on one GPU: default a stated assumption, replace it with the figure of
``benchmarks/gpu_check.py``).

    python benchmarks/bench_scale_ray.py [--queries 8000] [--support 60000] [--dim 512] [--gpu-rate 3e14]
    python benchmarks/bench_scale_ray.py --queries 1000 --support 8000   # a quick check
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

import numpy as np

IMAGENET_TRAIN, IMAGENET_VAL = 1_281_167, 50_000
#: flop/s of the exact bfloat16 search on one H200 assumed when --gpu-rate is not given: a third of its dense
#: bfloat16 peak (989 TFLOP/s); gpu_check.py measures the real figure
ASSUMED_GPU_RATE = 3.3e14


def relu_rows(n: int, d: int, seed: int) -> np.ndarray:
    """ReLU-like float32 rows of low intrinsic dimension (200 clusters, a 32-dimensional Gaussian each)."""
    shared = np.random.default_rng(1234 + d)
    centres = shared.standard_normal((200, d), dtype=np.float32)
    basis = shared.standard_normal((200, 32, d), dtype=np.float32) / np.float32(32**0.5)
    rng = np.random.default_rng(seed)
    cluster = rng.integers(0, 200, n)
    x = centres[cluster] + np.einsum("nl,nld->nd", rng.standard_normal((n, 32), dtype=np.float32), basis[cluster])
    x += np.float32(0.05) * rng.standard_normal((n, d), dtype=np.float32)
    return np.maximum(x, 0, out=x)


def part_b(args: argparse.Namespace) -> None:
    import ray
    import torch

    from difficulty_widget.pipeline.distributed import LocalExecutor, RayExecutor

    cpus = os.cpu_count() or 1
    query, support = relu_rows(args.queries, args.dim, 1), relu_rows(args.support, args.dim, 2)
    warm_q, warm_s = query[:256], support[:4096]
    local = LocalExecutor()
    local.nearest_neighbours(warm_q, warm_s, 30)

    def timed(engine: Any) -> tuple[float, Any]:
        started = time.perf_counter()
        nn = engine.nearest_neighbours(query, support, 30)
        return time.perf_counter() - started, nn

    want = local.nearest_neighbours(query, support, 30)
    print(f"(b) Ray engine overhead: {args.queries} x {args.support} x {args.dim}, k=30, {cpus} CPUs, torch "
          f"threads {torch.get_num_threads()}; best of {args.repeats} runs, interleaved with local ones")  # fmt: skip
    started = time.perf_counter()
    ray.init(num_cpus=cpus, include_dashboard=False, object_store_memory=512 * 2**20, log_to_driver=False)
    print(f"  ray.init (local cluster, {cpus} CPUs): {time.perf_counter() - started:.1f} s")
    print(f"  {'engine':34s} {'Ray':>7s} {'local':>7s}  ratio")
    try:
        configs = [("1 worker x all CPUs", {"workers": 1})]
        if cpus >= 2:
            configs += [("2 workers, replicated", {"workers": 2, "shards": 1}),
                        ("2 workers, sharded", {"workers": 2, "shards": 2})]  # fmt: skip
        for label, options in configs:
            with RayExecutor(query_rows=args.query_rows, **options) as engine:
                started = time.perf_counter()
                engine.nearest_neighbours(warm_q, warm_s, 30)
                warm = time.perf_counter() - started
                ray_s, local_s, same = [], [], True
                for _ in range(args.repeats):
                    local_s.append(timed(local)[0])
                    took, got = timed(engine)
                    ray_s.append(took)
                    same &= np.array_equal(got.indices, want.indices)
                    same &= np.array_equal(got.sq_distances, want.sq_distances)
            best_ray, best_local = min(ray_s), min(local_s)
            print(f"  RayExecutor, {label:21s} {best_ray:6.2f}s {best_local:6.2f}s  {best_ray / best_local:5.2f}"
                  f"  identical {same}  (actors up + warm-up {warm:.1f} s, {engine.last_search['blocks']} query "
                  "blocks)")  # fmt: skip
    finally:
        ray.shutdown()


def measured_rates(threads: int) -> dict[str, float]:
    """flop/s per core of the whole exact search on a 2048-value probe (4096 x 40000, k = 30) here."""
    from difficulty_widget.measures.knn import nearest_neighbours

    query, support = relu_rows(4096, 2048, 3), relu_rows(40000, 2048, 4)
    nearest_neighbours(query[:256], support[:4096], 30)
    rates = {}
    for precision in ("auto", "fp32"):
        started = time.perf_counter()
        nearest_neighbours(query, support, 30, exact_distances=False, precision=precision)
        rates[precision] = 2.0 * 2048 * len(query) * len(support) / (time.perf_counter() - started) / threads
    return rates


def part_c(args: argparse.Namespace) -> None:
    import torch
    import torchvision

    from difficulty_widget.extract.plan import plan_extraction
    from difficulty_widget.pipeline.cost import run_cost, seconds

    model = torchvision.models.resnet50(weights=None)
    x, y = torch.rand(4, 3, 224, 224, generator=torch.Generator().manual_seed(0)), torch.zeros(4, dtype=torch.long)
    dims = plan_extraction(model, (x, y), probes="blocks", max_probe_dim=4096).dims()
    costs = run_cost(dims, IMAGENET_TRAIN, IMAGENET_VAL, features="penultimate")
    storage, flop = sum(c.storage_bytes for c in costs), sum(c.knn_flop for c in costs)
    threads = torch.get_num_threads()
    rates = measured_rates(threads)
    print(f"(c) cost model, ImageNet ({IMAGENET_TRAIN} + {IMAGENET_VAL} images), ResNet-50 default probes "
          f"({len(dims)}, {sum(dims.values())} values a row, at most 4096 each):")  # fmt: skip
    print(f"  storage {storage / 1e9:.0f} GB of probes; exact k-NN {flop:.2e} flop (prediction depth on every probe"
          f" + the data scores on the penultimate one)")  # fmt: skip
    print(f"  rate measured here per core: {rates['auto'] / 1e9:.0f} GFLOP/s (auto), {rates['fp32'] / 1e9:.0f} "
          f"GFLOP/s (fp32), {threads} threads")  # fmt: skip
    for n in (16, 64, 256):
        hours = {p: seconds(flop, rate, n) / 3600 for p, rate in rates.items()}
        print(f"  {n:4d} CPU cores: {hours['auto']:7.1f} h (auto), {hours['fp32']:7.1f} h (fp32)")
    gpu_rate = args.gpu_rate or ASSUMED_GPU_RATE
    source = "given" if args.gpu_rate else "assumed: a third of an H200's dense bfloat16 peak"
    for n in (1, 8, 32):
        minutes = seconds(flop, gpu_rate, n) / 60
        print(f"  {n:4d} GPUs at {gpu_rate / 1e12:.0f} TFLOP/s each ({source}): {minutes:7.1f} min")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--queries", type=int, default=8000)
    parser.add_argument("--support", type=int, default=60000)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--query-rows", type=int, default=4096, help="query rows per Ray call (RayExecutor default)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--gpu-rate", type=float, default=None, help="flop/s of the exact search on one GPU")
    parser.add_argument("--parts", nargs="+", default=["b", "c"], choices=["b", "c"])
    args = parser.parse_args()
    if "b" in args.parts:
        part_b(args)
    if "c" in args.parts:
        part_c(args)


if __name__ == "__main__":
    main()
