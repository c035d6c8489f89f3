"""Extraction speed and memory: Fashion-MNIST 70k through the small CNN with all default probes.

Prints the time of ``extract(..., probes="default")`` as a ratio to a bare batched forward pass over the
same data in the same run (the floor: no hooks, no copies), and the peak resident memory of this process.
Targets (DESIGN.md section 5): under 60 s on 2 CPU cores.

    python benchmarks/bench_extraction.py [--n 70000] [--dataset fashion-mnist|digits]
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import torch

from difficulty_widget.data import load_digits, load_fashion_mnist
from difficulty_widget.data.torch_dataset import ImageArrayDataset
from difficulty_widget.extract import extract, make_model


def bare_forward(model: torch.nn.Module, dataset: ImageArrayDataset, batch_size: int) -> float:
    started = time.perf_counter()
    model.eval()
    with torch.no_grad():
        for start in range(0, len(dataset), batch_size):
            x, _ = dataset.batch(start, start + batch_size)
            model(x)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", default="fashion-mnist", choices=["fashion-mnist", "digits"])
    parser.add_argument("--n", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=256)
    args = parser.parse_args()
    data = load_fashion_mnist("all") if args.dataset == "fashion-mnist" else load_digits()
    if args.n:
        data = data.subset(np.arange(min(args.n, len(data))))
    model = make_model("cnn", data.n_classes, data.images.shape[1:], seed=0)
    dataset = data.as_dataset()
    print(f"{data!r}, torch threads: {torch.get_num_threads()}")

    floor = bare_forward(model, dataset, args.batch_size)
    started = time.perf_counter()
    ext = extract(model, data, probes="default", batch_size=args.batch_size, progress=False)
    elapsed = time.perf_counter() - started
    logits_only = time.perf_counter()
    extract(model, data, batch_size=args.batch_size, progress=False)
    logits_only = time.perf_counter() - logits_only

    stored = sum(a.nbytes for a in ext.probes.values()) / 2**20
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10
    print(f"probes: {', '.join(f'{k}={v.shape[1]}' for k, v in ext.probes.items())} ({stored:.0f} MiB stored)")
    print(f"bare forward (floor)      {floor:7.2f} s   1.00x")
    print(f"extract, logits only      {logits_only:7.2f} s   {logits_only / floor:.2f}x")
    print(f"extract, all probes       {elapsed:7.2f} s   {elapsed / floor:.2f}x")
    print(f"peak resident memory      {peak:7.0f} MiB")


if __name__ == "__main__":
    main()
