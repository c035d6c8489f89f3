"""Prediction depth speed and memory against the floor and the usual tools, on the same arrays in one run.

10,000 queries against 60,000 support points, 6 probes of dimensions (784, 4096, 2048, 1024, 128, 10),
k = 30, float32 (random data: the cost does not depend on the values). Prints the wall time of
``prediction_depth`` and, as ratios to it:

- the floor: the bare distance matrix products alone (``torch.mm`` of 512 query rows at a time against the
  whole support set, a new output each time). Not a strict lower bound: ``prediction_depth`` multiplies
  1024-row chunks in support-column blocks into one reused buffer, which can beat these shapes;
- faiss-cpu ``IndexFlatL2`` search for the same k (if installed);
- scikit-learn ``KNeighborsClassifier(algorithm="brute")`` (k-NN votes for the same probes);

the share of query rows per probe that the k-NN search settled only with a wider candidate search or the full
float64 pass, and the resident memory of this process: after the imports, once the input arrays exist (the
baseline), after a small warm-up call, and its peak while ``prediction_depth`` ran (before the others ran), with
the part above the baseline. Targets (DESIGN.md section 5): within 1.5x of the floor, no slower than 1.2x faiss,
at least 2x faster than scikit-learn, peak memory under 3 GB (GB here: 2**30 bytes).

With ``--flow``: prediction depth alone against prediction depth with the data of the layer-wise difficulty flow
(per probe, the k-NN label agreement from the same neighbours; the vote matches come with both) on Fashion-MNIST:
the 10,000 test images against the 60,000 training images, the default probes of the small CNN trained for
``--epochs`` epochs on the first ``--train-images`` training images (average-pooled to at most 4096 values, as
``analyze`` does). The two are timed alternately (A B B A for ``--repeats 2``) in the same run and the ratio of
their total times printed (target: the flow data add under 10%), with the peak resident memory after the first
depth-alone run and after the first run with flow data.

    python benchmarks/bench_depth.py [--queries 10000] [--support 60000] [--dims 784 4096 2048 1024 128 10]
    python benchmarks/bench_depth.py --flow [--epochs 1] [--repeats 2] [--queries 10000] [--support 60000]
"""

from __future__ import annotations

import argparse
import resource
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--queries", type=int, default=10_000)
    parser.add_argument("--support", type=int, default=60_000)
    parser.add_argument("--dims", type=int, nargs="+", default=[784, 4096, 2048, 1024, 128, 10])
    parser.add_argument("--k", type=int, default=30)
    parser.add_argument("--skip-sklearn", action="store_true")
    parser.add_argument("--flow", action="store_true", help="depth alone vs depth + flow data on Fashion-MNIST")
    parser.add_argument("--epochs", type=int, default=1, help="--flow: training epochs of the small CNN")
    parser.add_argument("--train-images", type=int, default=10_000, help="--flow: training images of the CNN")
    parser.add_argument("--repeats", type=int, default=2, help="--flow: timed runs of each, alternating")
    args = parser.parse_args()
    if args.flow:
        flow_benchmark(args)
        return
    after_imports = resident_gb()
    rng = np.random.default_rng(0)
    support = [rng.standard_normal((args.support, d), dtype=np.float32) for d in args.dims]
    queries = [rng.standard_normal((args.queries, d), dtype=np.float32) for d in args.dims]
    labels = rng.integers(0, 10, args.support)
    predictions = rng.integers(0, 10, args.queries)
    input_gb = sum(a.nbytes for a in [*support, *queries, labels, predictions]) / 2**30
    with_inputs = resident_gb()
    print(f"{args.queries} queries x {args.support} support, probes {args.dims}, k={args.k}, "
          f"torch threads {torch.get_num_threads()}")  # fmt: skip

    # warm up torch's thread pool and allocator on a small slice first, so that no timing below pays for it
    prediction_depth([q[:64] for q in queries], support, labels, predictions[:64], k=args.k, progress=False)
    after_warm_up = resident_gb()
    result = []
    ours = timed(
        lambda: result.append(prediction_depth(queries, support, labels, predictions, k=args.k, progress=False))
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20

    def floor() -> None:
        for q, s in zip(queries, support, strict=True):
            st = torch.from_numpy(s)
            for start in range(0, len(q), 512):
                torch.from_numpy(q[start : start + 512]) @ st.T

    rows = [("prediction_depth (ours)", ours), ("bare matmuls (floor)", timed(floor))]
    try:
        import faiss

        def faiss_search() -> None:
            for q, s in zip(queries, support, strict=True):
                index = faiss.IndexFlatL2(s.shape[1])
                index.add(s)
                index.search(q, args.k)

        rows.append(("faiss IndexFlatL2", timed(faiss_search)))
    except ImportError:
        print("faiss-cpu not installed: skipped")
    if not args.skip_sklearn:
        from sklearn.neighbors import KNeighborsClassifier

        def sklearn_votes() -> None:
            for q, s in zip(queries, support, strict=True):
                KNeighborsClassifier(n_neighbors=args.k, algorithm="brute").fit(s, labels).predict(q)

        rows.append(("scikit-learn brute k-NN", timed(sklearn_votes)))
    for name, seconds in rows:
        print(f"  {name:28s} {seconds:8.1f} s   ours / this = {ours / seconds:.2f}")
    print(f"  {search_rows(result[0], args.queries)}")
    print(f"  resident memory: after imports {after_imports:.2f} GB, with the inputs ({input_gb:.2f} GB of arrays) "
          f"{with_inputs:.2f} GB, after the warm-up {after_warm_up:.2f} GB")  # fmt: skip
    print(f"  peak resident memory (ours, measured before the others ran) {peak:.2f} GB, "
          f"{peak - with_inputs:.2f} GB above the inputs")  # fmt: skip


def search_rows(result, n_queries: int) -> str:
    """Per probe, the query rows the k-NN search settled with a wider candidate search / the float64 pass."""
    widened = ", ".join(f"{n / n_queries:.2%}" for n in result.widened_rows)
    fallback = ", ".join(f"{n / n_queries:.2%}" for n in result.fallback_rows)
    return f"k-NN rows per probe: widened search [{widened}], full float64 pass [{fallback}]"


def peak_gb() -> float:
    """Peak resident memory of this process so far (ru_maxrss), in GiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def flow_benchmark(args: argparse.Namespace) -> None:
    """Depth alone vs depth + flow data (agreement per probe) on Fashion-MNIST, alternating in one run."""
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
    print(f"Fashion-MNIST: {len(test)} test queries x {len(train)} training support, small CNN ({args.epochs} "
          f"epochs on {len(fit)} images, {t_train:.0f} s), probes {dims}, k={args.k}, "
          f"torch threads {torch.get_num_threads()}")  # fmt: skip
    with_inputs = resident_gb()

    def run(flow: bool):
        labels = test.labels if flow else None
        return prediction_depth(queries, support, train.labels, te.predictions, k=args.k, progress=False,
                                query_labels=labels)  # fmt: skip

    # warm up torch's thread pool and allocator on a small slice first
    prediction_depth([q[:64] for q in queries], support, train.labels, te.predictions[:64], k=args.k,
                     progress=False, query_labels=test.labels[:64])  # fmt: skip
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
    print(f"  {search_rows(results[True], len(test))}")
    print(f"  flow data: agreement {agreement.shape} {agreement.dtype} ({agreement.nbytes / 2**20:.2f} MiB), vote "
          f"matches {results[True].vote_matches.shape} bool; mean agreement per probe "
          f"{np.round(agreement.mean(axis=0, dtype=np.float64), 3).tolist()}")  # fmt: skip
    print(f"  resident memory with the inputs {with_inputs:.2f} GB; peak after depth alone {peaks[False]:.2f} GB, "
          f"after depth + flow data {peaks[True]:.2f} GB")  # fmt: skip


if __name__ == "__main__":
    main()
