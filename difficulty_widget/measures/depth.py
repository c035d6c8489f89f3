"""Prediction depth (Baldock, Maennel, Neyshabur, "Deep learning through the lens of example difficulty",
NeurIPS 2021, section 2.1): the earliest layer from which k-NN probes on the embeddings agree with the
network's final prediction, and keep agreeing.

Per probe l, a k-NN classifier (Euclidean, k = 30 by default) over the support set's embeddings votes
(:func:`~difficulty_widget.measures.knn.majority_vote`); the depth of an instance is the smallest probe index l
such that the votes at l and at every later probe equal its final prediction. If the last probe disagrees the
depth is the number of probes and the instance is flagged ``depth_undetermined``.

From the same neighbours (no second search) come the data of the layer-wise difficulty flow: per instance and
probe, the k-NN label agreement (the share of its k neighbours with its own label) and whether the probe's vote
equals the final prediction (:mod:`~difficulty_widget.measures.flow` summarises them per layer).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .._validation import check_bool, check_labels
from .knn import (
    Neighbours,
    check_features,
    class_counts_and_sums,
    direct_sq_dist,
    majority_vote,
    nearest_neighbours,
)
from .knn_streamed import streamed_nearest_neighbours
from .registry import Measure, register
from .search import KnnSearch
from .support import SupportRows, combine


@dataclass
class DepthResult:
    """``depth`` (N,), the per-probe k-NN ``votes`` (N x L) and the ``undetermined`` flag (N,); per probe,
    ``vote_matches`` (N x L bool: vote == final prediction) and, when the query labels were given,
    ``agreement`` (N x L float32: share of the k neighbours with the query's own label); per probe, how many
    query rows the k-NN search settled only with a wider candidate search (``widened_rows``) or the full float64
    pass (``fallback_rows``); the precision of each probe's candidate search (``precisions``) and the rows a
    bfloat16 search left to float32 (``rechecked_rows``) and those its first candidate search proved
    (``first_rows``)."""

    depth: np.ndarray
    votes: np.ndarray
    undetermined: np.ndarray
    vote_matches: np.ndarray
    agreement: np.ndarray | None = None
    fallback_rows: list[int] = field(default_factory=list)
    widened_rows: list[int] = field(default_factory=list)
    precisions: list[str] = field(default_factory=list)
    rechecked_rows: list[int] = field(default_factory=list)
    first_rows: list[int] = field(default_factory=list)

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame({"prediction_depth": self.depth, "depth_undetermined": self.undetermined})


def depth_from_votes(votes: np.ndarray, predictions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Depth and undetermined flag from per-probe votes (N x L) and final predictions (N,)."""
    agree = votes == predictions[:, None]
    # suffix[:, l] is True when every probe from l to the last agrees
    suffix = np.logical_and.accumulate(agree[:, ::-1], axis=1)[:, ::-1]
    depth = votes.shape[1] - suffix.sum(axis=1)
    return depth.astype(np.int64), ~agree[:, -1]


def prediction_depth(
    query_probes: Sequence[Any],
    support_probes: Sequence[Any],
    support_labels: Any,
    predictions: Any,
    k: int = 30,
    exclude_self: bool = False,
    *,
    chunk_size: int | None = None,
    progress: bool = True,
    query_labels: Any = None,
    device: Any = None,
    precision: str = "auto",
    memory_budget: int | str | None = None,
    search: KnnSearch | None = None,
) -> DepthResult:
    """Prediction depth of each query.

    Parameters
    ----------
    query_probes, support_probes : equally long sequences, one array per probe layer in network order
        (N_query x d_l and N_support x d_l).
    support_labels : (N_support,) labels of the support set (usually the training set).
    predictions : (N_query,) the network's final prediction for each query.
    k : neighbours per vote. ``exclude_self=True`` when the queries are the support set: each point's own
        entry is dropped (then k <= N_support - 1).
    query_labels : optional (N_query,) labels of the queries; then ``agreement`` holds, per probe, the share of
        each query's k neighbours whose label equals its own (from the neighbours of the vote: no extra search).
    device : where the k-NN search runs (a torch device or its name, e.g. ``"cuda"``); default the CPU.
    precision : of the k-NN candidate search (``"auto"``, ``"bf16"``, ``"fp32"``, ``"fp64"``; see
        :func:`~difficulty_widget.measures.knn.nearest_neighbours`). The depths are the same for each.
    memory_budget : when given (bytes, or a string such as ``"2GiB"``), each probe's support set is read in row
        blocks that fit it (:func:`~difficulty_widget.measures.knn_streamed.streamed_nearest_neighbours`), so
        memory-mapped probes need not fit in memory; the depths are the same.
    search : the engine of the k-NN searches, a :data:`~difficulty_widget.measures.search.KnnSearch` (called as
        ``search(query, support, k, exclude_self=..., precision=..., device=...)``, for example a
        ``RayExecutor``'s ``nearest_neighbours``); default the in-process engine. The depths are the same.
    """
    exclude_self = check_bool(exclude_self, "exclude_self")
    progress = check_bool(progress, "progress")
    if isinstance(query_probes, np.ndarray) or isinstance(support_probes, np.ndarray):
        raise ValueError("query_probes and support_probes must be sequences of arrays, one per probe layer")
    query_probes, support_probes = list(query_probes), list(support_probes)
    if not query_probes or len(query_probes) != len(support_probes):
        raise ValueError(
            f"query_probes and support_probes must be equally long non-empty sequences, "
            f"got {len(query_probes)} and {len(support_probes)}"
        )
    queries = [check_features(p, f"query_probes[{i}]") for i, p in enumerate(query_probes)]
    supports = [check_features(p, f"support_probes[{i}]") for i, p in enumerate(support_probes)]
    n_q, n_s = len(queries[0]), len(supports[0])
    for i, (qp, sp) in enumerate(zip(queries, supports, strict=True)):
        if len(qp) != n_q or len(sp) != n_s:
            raise ValueError(f"probe {i} has {len(qp)} query and {len(sp)} support rows, expected {n_q} and {n_s}")
    labels = check_labels(support_labels, n=n_s, name="support_labels")
    preds = check_labels(predictions, n=n_q, name="predictions")
    own = None if query_labels is None else check_labels(query_labels, n=n_q, name="query_labels")
    # votes count the classes that occur, coded 0..C-1 in sorted order (so a tie still goes to the smaller label):
    # the counts' size follows the data, not the largest label value
    classes = np.unique(np.concatenate([labels, preds, np.empty(0, np.int64) if own is None else own]))
    n_classes = len(classes)
    labels_code = np.searchsorted(classes, labels)
    own_code = None if own is None else np.searchsorted(classes, own)
    votes = np.empty((n_q, len(queries)), dtype=np.int64)
    agreement = None if own is None else np.empty((n_q, len(queries)), dtype=np.float32)
    fallback_rows, widened_rows, precisions, rechecked_rows, first_rows = [], [], [], [], []
    for layer in tqdm(range(len(queries)), desc="prediction depth", unit="probe", disable=not progress, leave=False):
        if search is not None:
            nn = search(queries[layer], supports[layer], k, exclude_self=exclude_self, precision=precision,
                        device=device)  # fmt: skip
        elif memory_budget is None:
            nn = nearest_neighbours(
                queries[layer], supports[layer], k, exclude_self=exclude_self, exact_distances=False,
                chunk_size=chunk_size, device=device, precision=precision,
            )  # fmt: skip
        else:
            nn = streamed_nearest_neighbours(
                queries[layer], supports[layer], k, exclude_self=exclude_self, memory_budget=memory_budget,
                precision=precision, device=device,
            )  # fmt: skip
        fallback_rows.append(nn.fallback_rows)
        widened_rows.append(nn.widened_rows)
        precisions.append(nn.precision)
        rechecked_rows.append(nn.rechecked_rows)
        first_rows.append(nn.first_rows)
        vote_codes, counts = _vote(labels_code, nn, queries[layer], supports[layer], n_classes)
        votes[:, layer] = classes[vote_codes]
        if agreement is not None:
            # the neighbours' count of the query's own class, read from the vote's class counts
            agreement[:, layer] = counts[np.arange(n_q), own_code] / k
    depth, undetermined = depth_from_votes(votes, preds)
    return DepthResult(
        depth=depth, votes=votes, undetermined=undetermined, vote_matches=votes == preds[:, None],
        agreement=agreement, fallback_rows=fallback_rows, widened_rows=widened_rows, precisions=precisions,
        rechecked_rows=rechecked_rows, first_rows=first_rows,
    )  # fmt: skip


def _vote(
    labels: np.ndarray, nn: Neighbours, query: np.ndarray, support: np.ndarray, n_classes: int
) -> tuple[np.ndarray, np.ndarray]:
    """Majority votes and the class counts among the neighbours (N x n_classes). Rows whose counts tie are
    decided by the tied classes' sums of squared distances: from the float32 distances when their gap exceeds
    twice the count times the row's error bound (``error_bounds``: the largest bound on |float32 - float64
    distance| among the row's neighbours), otherwise from float64 re-measurements."""
    neighbour_labels = labels[nn.indices]
    counts, sums = class_counts_and_sums(neighbour_labels, nn.sq_distances, n_classes)
    votes = counts.argmax(axis=1)
    top = counts.max(axis=1, keepdims=True)
    tied = np.flatnonzero((counts == top).sum(axis=1) > 1)
    if tied.size == 0:
        return votes, counts
    candidate_sums = np.where(counts[tied] == top[tied], sums[tied], np.inf)
    two = np.sort(candidate_sums, axis=1)[:, :2]
    bound = 0.0 if nn.error_bounds is None else nn.error_bounds[tied]
    decided = (two[:, 1] - two[:, 0]) > 2 * top[tied, 0] * bound
    votes[tied[decided]] = candidate_sums[decided].argmin(axis=1)
    unsure = tied[~decided]
    if unsure.size:
        exact = direct_sq_dist(query[unsure], support, nn.indices[unsure])  # float64 block by block
        votes[unsure] = majority_vote(neighbour_labels[unsure], exact, n_classes)
    return votes, counts


@dataclass
class DepthFlow:
    """Prediction depth of every row of a table with the layer-wise flow data, rows in table order:
    ``frame`` (the depth columns), ``agreement`` (N x L float32) and ``vote_matches`` (N x L bool)."""

    frame: pd.DataFrame
    agreement: np.ndarray
    vote_matches: np.ndarray


def depth_flow(
    probes: Sequence[Any],
    labels: Any,
    predictions: Any,
    support_mask: Any = None,
    progress: bool = False,
    device: Any = None,
    precision: str = "auto",
    memory_budget: int | str | None = None,
    search: KnnSearch | None = None,
) -> DepthFlow:
    """Prediction depth (k = 30) and, from the same neighbours, per probe the k-NN label agreement and whether
    the probe's vote equals the final prediction, for every row of a table.

    ``probes`` holds one (N x d_l) array per probe layer for all N rows. The support set is the rows of
    ``support_mask`` (every row when ``None``): support rows are measured against the others (themselves
    excluded), the remaining rows against all support rows. ``device``: where the k-NN search runs (default the
    CPU); ``precision``: of its candidate search (the result is the same for each; see :func:`prediction_depth`);
    ``memory_budget``: read the support set in blocks that fit it (see :func:`prediction_depth`; the support rows
    are a view, not a copy, when they are one contiguous run, as in a run directory); ``search``: the k-NN engine
    (see :func:`prediction_depth`).
    """
    rows = SupportRows.from_mask(support_mask, len(labels))
    labels = check_labels(labels, name="labels")
    predictions = check_labels(predictions, n=rows.n, name="predictions")
    for i, probe in enumerate(probes):
        if len(probe) != rows.n:
            raise ValueError(f"probes[{i}] has {len(probe)} rows, expected {rows.n} (one per label)")
    support = [rows.take(p, rows.support) for p in probes]
    support_labels = labels[rows.support]
    k = min(30, len(rows.support) - 1)
    if k < 1:
        raise ValueError("prediction depth needs at least two support (training) rows")
    parts = []
    agreement = np.empty((rows.n, len(probes)), dtype=np.float32)
    vote_matches = np.empty((rows.n, len(probes)), dtype=bool)
    for query_rows, exclude_self in ((rows.support, True), (rows.others, False)):
        if query_rows.size:
            queries = support if exclude_self else [rows.take(p, query_rows) for p in probes]
            result = prediction_depth(
                queries, support, support_labels, predictions[query_rows], k=k, exclude_self=exclude_self,
                progress=progress, query_labels=labels[query_rows], device=device, precision=precision,
                memory_budget=memory_budget, search=search,
            )  # fmt: skip
            parts.append((result.to_frame(), query_rows))
            agreement[query_rows] = result.agreement
            vote_matches[query_rows] = result.vote_matches
    return DepthFlow(combine(parts, rows.n), agreement, vote_matches)


def depth_scores(
    probes: Sequence[Any],
    labels: Any,
    predictions: Any,
    support_mask: Any = None,
    progress: bool = False,
    device: Any = None,
    precision: str = "auto",
    memory_budget: int | str | None = None,
    search: KnnSearch | None = None,
) -> pd.DataFrame:
    """Registry adapter: the two depth columns of :func:`depth_flow` (same arguments)."""
    return depth_flow(
        probes, labels, predictions, support_mask=support_mask, progress=progress, device=device,
        precision=precision, memory_budget=memory_budget, search=search,
    ).frame  # fmt: skip


_INPUTS = ("probes", "labels", "predictions")
_OPTIONAL = ("support_mask", "progress", "device", "precision", "memory_budget", "search")
register(
    Measure(
        name="prediction_depth",
        perspective="model",
        inputs=_INPUTS,
        direction="hard = high",
        range="{0, ..., L} (L = number of probes)",
        description="First probe layer from which the k-NN (k=30) votes on the embeddings agree with the "
        "final prediction and keep agreeing.",
        reference="Baldock, Maennel, Neyshabur, NeurIPS 2021, section 2.1.",
        compute=depth_scores,
        optional=_OPTIONAL,
    )
)
register(
    Measure(
        name="depth_undetermined",
        perspective="model",
        inputs=_INPUTS,
        direction="hard = high",
        range="{False, True}",
        description="The last probe's k-NN vote disagrees with the prediction (depth = L).",
        reference="Baldock, Maennel, Neyshabur, NeurIPS 2021.",
        compute=depth_scores,
        optional=_OPTIONAL,
    )
)
