"""Prediction depth speed and memory at each precision of the k-NN search, against the floors and the usual
tools, on the same arrays in one run.

10,000 queries against 60,000 support points, k = 30, on one of two kinds of data (``--data``):

- ``random`` (default): standard normal float32 rows in 6 probes of dimensions (784, 4096, 2048, 1024, 128,
  10). Distances between Gaussian rows in many dimensions concentrate, which is the worst case for a
  bfloat16 search: its bound proves few rows there, and ``"auto"`` goes back to float32 after the first chunk;
- ``fashion``: the real probes of the small CNN on Fashion-MNIST (the 10,000 test images against the 60,000
  training images; input, three blocks, head and logits, average-pooled to at most 4096 values as ``analyze``
  does), trained for ``--epochs`` epochs on the first ``--train-images`` training images.

Prints the wall time of ``prediction_depth`` at each precision of ``--precisions`` (default ``auto bf16 fp32
fp64``), with whether the depths and votes are identical at every precision, and as ratios:

- the float32 floor: the bare distance matrix products alone (``torch.mm`` of 512 query rows at a time
  against the whole support set, a new output each time). Not a strict lower bound: the search multiplies
  1024-row chunks in support-column blocks into one reused buffer, which can beat these shapes;
- the bfloat16 floor: the same products in bfloat16 (inputs converted before the clock starts);
- faiss-cpu ``IndexFlatL2`` search for the same k (if installed);
- scikit-learn ``KNeighborsClassifier(algorithm="brute")`` (k-NN votes for the same probes);

per precision and probe, the share of query rows settled by the first candidate search, the rows a bfloat16
search left to float32, the widened searches and the full float64 pass; and the peak resident memory of
each precision's run (sampled every 20 ms), above the inputs. Targets (issue 15): exact prediction depth at
most 0.5x the float32 floor, peak memory under 3 GB above the inputs (GB here: 2**30 bytes).

With ``--flow``: prediction depth alone against prediction depth with the data of the layer-wise difficulty flow
(per probe, the k-NN label agreement from the same neighbours; the vote matches come with both) on the
Fashion-MNIST probes above. The two are timed alternately (A B B A for ``--repeats 2``) in the same run and
the ratio of their total times printed (target: the flow data add under 10%), with the peak resident memory
after the first depth-alone run and after the first run with flow data.

    python benchmarks/bench_depth.py [--data random|fashion] [--precisions auto bf16 fp32 fp64]
        [--queries 10000] [--support 60000] [--dims 784 4096 2048 1024 128 10] [--skip-sklearn]
    python benchmarks/bench_depth.py --flow [--epochs 1] [--repeats 2] [--queries 10000] [--support 60000]
"""

from __future__ import annotations

import argparse
import resource
import threading
import time

import numpy as np
import torch

from difficulty_widget.measures import prediction_depth


def resident_gb() -> float:
    """Current resident memory of this process (VmRSS), in GiB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 2**20
    return float("nan")


def timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


class PeakSampler:
    """The largest resident memory seen while the ``with`` block runs (sampled every 20 ms), in GiB."""

    def __enter__(self) -> PeakSampler:
        self.peak, self._stop = resident_gb(), threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, resident_gb())

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, resident_gb())


def fashion_probes(args: argparse.Namespace):
    """(queries, support, training labels, test predictions, test labels, description) from the small CNN."""
    from difficulty_widget.data import load_fashion_mnist
    from difficulty_widget.extract import extract, train_small_model

    train = load_fashion_mnist("train").subset(np.arange(args.support))
    test = load_fashion_mnist("test").subset(np.arange(args.queries))
    started = time.perf_counter()
    fit = train.subset(np.arange(min(args.train_images, len(train))))  # the search cost does not depend on it
    model = train_small_model(fit, "cnn", epochs=args.epochs, seed=0, progress=False).model
    t_train = time.perf_counter() - started
    kwargs = {"probes": "default", "max_probe_dim": 4096, "progress": False}
    tr, te = extract(model, train, **kwargs), extract(model, test, **kwargs)
    names = list(tr.probes)
    support, queries = [tr.probes[p] for p in names], [te.probes[p] for p in names]
    dims = dict(zip(names, [q.shape[1] for q in queries], strict=True))
    about = (f"Fashion-MNIST: {len(test)} test queries x {len(train)} training support, small CNN ({args.epochs} "
             f"epochs on {len(fit)} images, {t_train:.0f} s), probes {dims}")  # fmt: skip
    return queries, support, train.labels, te.predictions, test.labels, about


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--queries", type=int, default=10_000)
    parser.add_argument("--support", type=int, default=60_000)
    parser.add_argument("--dims", type=int, nargs="+", default=[784, 4096, 2048, 1024, 128, 10])
    parser.add_argument("--k", type=int, default=30)
    parser.add_argument("--data", choices=["random", "fashion"], default="random")
    parser.add_argument("--precisions", nargs="+", default=["auto", "bf16", "fp32", "fp64"])
    parser.add_argument("--skip-sklearn", action="store_true")
    parser.add_argument("--flow", action="store_true", help="depth alone vs depth + flow data on Fashion-MNIST")
    parser.add_argument("--epochs", type=int, default=1, help="fashion, --flow: training epochs of the small CNN")
    parser.add_argument("--train-images", type=int, default=10_000, help="fashion, --flow: the CNN's images")
    parser.add_argument("--repeats", type=int, default=2, help="--flow: timed runs of each, alternating")
    args = parser.parse_args()
    if args.flow:
        flow_benchmark(args)
        return
    after_imports = resident_gb()
    if args.data == "fashion":
        queries, support, labels, predictions, _, about = fashion_probes(args)
    else:
        rng = np.random.default_rng(0)
        support = [rng.standard_normal((args.support, d), dtype=np.float32) for d in args.dims]
        queries = [rng.standard_normal((args.queries, d), dtype=np.float32) for d in args.dims]
        labels = rng.integers(0, 10, args.support)
        predictions = rng.integers(0, 10, args.queries)
        about = f"random normal: {args.queries} queries x {args.support} support, probes {args.dims}"
    input_gb = sum(a.nbytes for a in [*support, *queries, labels, predictions]) / 2**30
    with_inputs = resident_gb()
    print(f"{about}, k={args.k}, torch threads {torch.get_num_threads()}")

    # warm up torch's thread pool, the allocator and the bfloat16 kernels on a small slice first
    for precision in args.precisions:
        prediction_depth([q[:300] for q in queries], support, labels, predictions[:300], k=args.k, progress=False,
                         precision=precision)  # fmt: skip
    after_warm_up = resident_gb()
    results, times, peaks = {}, {}, {}
    for precision in args.precisions:
        with PeakSampler() as sampler:
            started = time.perf_counter()
            results[precision] = prediction_depth(queries, support, labels, predictions, k=args.k, progress=False,
                                                  precision=precision)  # fmt: skip
            times[precision] = time.perf_counter() - started
        peaks[precision] = sampler.peak

    def floor() -> None:
        for q, s in zip(queries, support, strict=True):
            st = torch.from_numpy(s)
            for start in range(0, len(q), 512):
                torch.from_numpy(q[start : start + 512]) @ st.T

    q16 = [torch.from_numpy(q).bfloat16() for q in queries]
    s16 = [torch.from_numpy(s).bfloat16() for s in support]

    def floor_bf16() -> None:
        for q, s in zip(q16, s16, strict=True):
            for start in range(0, len(q), 512):
                q[start : start + 512] @ s.T

    floor_bf16()  # warm-up of the bfloat16 kernels
    baselines = [("bare float32 matmuls (floor)", timed(floor)), ("bare bfloat16 matmuls", timed(floor_bf16))]
    q16.clear(), s16.clear()
    try:
        import faiss

        def faiss_search() -> None:
            for q, s in zip(queries, support, strict=True):
                index = faiss.IndexFlatL2(s.shape[1])
                index.add(s)
                index.search(q, args.k)

        baselines.append(("faiss IndexFlatL2", timed(faiss_search)))
    except ImportError:
        print("faiss-cpu not installed: skipped")
    if not args.skip_sklearn:
        from sklearn.neighbors import KNeighborsClassifier

        def sklearn_votes() -> None:
            for q, s in zip(queries, support, strict=True):
                KNeighborsClassifier(n_neighbors=args.k, algorithm="brute").fit(s, labels).predict(q)

        baselines.append(("scikit-learn brute k-NN", timed(sklearn_votes)))
    floor_s = baselines[0][1]
    print(f"  {'':34s} {'seconds':>8s}   / float32 floor")
    for precision in args.precisions:
        seconds = times[precision]
        print(f"  prediction_depth precision={precision:6s}  {seconds:8.1f}   {seconds / floor_s:.2f}")
    for name, seconds in baselines:
        print(f"  {name:34s} {seconds:8.1f}   {seconds / floor_s:.2f}")
    first = results[args.precisions[0]]
    same = all(np.array_equal(r.depth, first.depth) and np.array_equal(r.votes, first.votes) for r in results.values())
    print(f"  identical depths and votes at every precision: {same}")
    for precision in args.precisions:
        print(f"  {precision:5s} {search_rows(results[precision], args.queries)}")
    print(f"  resident memory: after imports {after_imports:.2f} GB, with the inputs ({input_gb:.2f} GB of arrays) "
          f"{with_inputs:.2f} GB, after the warm-up {after_warm_up:.2f} GB")  # fmt: skip
    for precision in args.precisions:
        print(f"  peak resident memory, precision={precision}: {peaks[precision]:.2f} GB, "
              f"{peaks[precision] - with_inputs:.2f} GB above the inputs")  # fmt: skip


def search_rows(result, n_queries: int) -> str:
    """Per probe: the precision used, and the shares of query rows settled by the first candidate search, left
    by bfloat16 to float32, searched again with more candidates, and settled by the full float64 pass."""
    parts = []
    for values in zip(result.precisions, result.first_rows, result.rechecked_rows, result.widened_rows,
                      result.fallback_rows, strict=True):  # fmt: skip
        precision, *counts = values
        first, rechecked, widened, fallback = (f"{n / n_queries:.1%}" for n in counts)
        parts.append(f"{precision}: first {first}, to float32 {rechecked}, widened {widened}, float64 {fallback}")
    return "k-NN rows per probe: " + "; ".join(parts)


def peak_gb() -> float:
    """Peak resident memory of this process so far (ru_maxrss), in GiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def flow_benchmark(args: argparse.Namespace) -> None:
    """Depth alone vs depth + flow data (agreement per probe) on Fashion-MNIST, alternating in one run."""
    queries, support, labels, predictions, test_labels, about = fashion_probes(args)
    print(f"{about}, k={args.k}, torch threads {torch.get_num_threads()}")
    with_inputs = resident_gb()

    def run(flow: bool):
        return prediction_depth(queries, support, labels, predictions, k=args.k, progress=False,
                                query_labels=test_labels if flow else None)  # fmt: skip

    # warm up torch's thread pool and allocator on a small slice first
    prediction_depth([q[:300] for q in queries], support, labels, predictions[:300], k=args.k,
                     progress=False, query_labels=test_labels[:300])  # fmt: skip
    times: dict[bool, list[float]] = {False: [], True: []}
    peaks: dict[bool, float] = {}
    results = {}
    order = [False, True, True, False] * (args.repeats // 2) + [False, True] * (args.repeats % 2)
    for flow in order:
        started = time.perf_counter()
        results[flow] = run(flow)
        times[flow].append(time.perf_counter() - started)
        peaks.setdefault(flow, peak_gb())
    alone, with_flow = sum(times[False]), sum(times[True])
    same = np.array_equal(results[False].depth, results[True].depth) and np.array_equal(
        results[False].votes, results[True].votes
    )
    agreement = results[True].agreement
    for flow, name in ((False, "depth alone"), (True, "depth + flow data")):
        runs = times[flow]
        print(f"  {name:22s} {sum(runs) / len(runs):8.1f} s per run  {[round(t, 1) for t in runs]}")
    print(f"  ratio (depth + flow) / depth alone = {with_flow / alone:.3f}   (target < 1.10); identical depths: {same}")
    print(f"  {search_rows(results[True], len(test_labels))}")
    print(f"  flow data: agreement {agreement.shape} {agreement.dtype} ({agreement.nbytes / 2**20:.2f} MiB), vote "
          f"matches {results[True].vote_matches.shape} bool; mean agreement per probe "
          f"{np.round(agreement.mean(axis=0, dtype=np.float64), 3).tolist()}")  # fmt: skip
    print(f"  resident memory with the inputs {with_inputs:.2f} GB; peak after depth alone {peaks[False]:.2f} GB, "
          f"after depth + flow data {peaks[True]:.2f} GB")  # fmt: skip


if __name__ == "__main__":
    main()
