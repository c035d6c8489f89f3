"""The cost model of a run: bytes on disk and floating-point operations of the exact k-NN searches, per probe.

Per probe of ``d`` values, with ``S`` support (training) rows and ``O`` other rows (validation, test):

- **storage**: ``4 d (S + O)`` bytes (float32, one ``.npy`` per probe in a run directory);
- **k-NN**: prediction depth queries every row against the support set, so ``2 d (S + O) S`` flop for the
  products of the distance matrix (the selection, the proofs and the float64 re-measurements of near ties are
  linear in ``(S + O) S`` or smaller); the data scores search the features probe once more.

Times follow from a rate: :func:`seconds` divides by ``rate`` (flop/s of the whole exact search, as
``benchmarks/bench_scale.py`` measures it per core or per GPU) times the number of workers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class ProbeCost:
    """One probe's ``dim``, ``storage_bytes`` (float32 rows on disk) and ``knn_flop`` (its exact searches)."""

    name: str
    dim: int
    storage_bytes: int
    knn_flop: float


def run_cost(dims: Mapping[str, int], n_support: int, n_other: int, *, features: str | None = None) -> list[ProbeCost]:
    """The cost of each probe of ``dims`` (name -> values per row) for ``n_support`` training rows and
    ``n_other`` further rows (module docstring); the ``features`` probe counts one more search (the data scores).

    Example (ResNet-50's default probes on ImageNet)::

        costs = run_cost(plan.dims(), 1_281_167, 50_000, features="penultimate")
        sum(c.storage_bytes for c in costs) / 1e9, sum(c.knn_flop for c in costs)
    """
    if n_support < 1 or n_other < 0:
        raise ValueError(f"n_support must be positive and n_other non-negative, got {n_support} and {n_other}")
    rows = n_support + n_other
    out = []
    for name, d in dims.items():
        searches = 2 if name == features else 1
        out.append(ProbeCost(name, int(d), 4 * int(d) * rows, searches * 2.0 * d * rows * n_support))
    return out


def seconds(flop: float, rate: float, workers: int = 1) -> float:
    """Seconds for ``flop`` at ``rate`` flop/s per worker on ``workers`` workers (perfect scaling: a lower bound
    for the searches, which share nothing but the merge)."""
    if rate <= 0 or workers < 1:
        raise ValueError(f"rate must be positive and workers at least 1, got {rate} and {workers}")
    return flop / (rate * workers)
