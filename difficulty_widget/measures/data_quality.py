"""Data quality from the pixels and the embeddings: duplicates, train/test leakage, outliers and typicality.

Hard images are often not hard: they are duplicates with conflicting labels, test images that leaked from the
training set, or outliers that belong to no class. Every score here comes from the neighbours that the data scores
already search (the k = 30 nearest training rows of every row on the features probe, by the exact engine of
:mod:`difficulty_widget.measures.knn`), plus one search of the other (test) rows among themselves for duplicates
inside the test split, a k-means of the training features, and a hash of every image's pixels.

- **Exact duplicates** (:func:`pixel_hashes`, :func:`exact_duplicate_groups`): rows whose pixels, as the dataset
  decodes them, are identical (BLAKE2b, 128-bit digest of the bytes with the shape and dtype).
- **Near duplicates** (:func:`near_duplicate_radius`): two rows whose feature distance is at most ``near_factor``
  (default 0.13) times the median distance from a training row to its nearest other training row: the rule and
  the factor of cleanlab's Datalab ``near_duplicate`` issue type, on Euclidean distances.
- **Duplicate groups** (:func:`duplicate_groups`): connected components of the exact and near pairs;
  ``duplicate_group`` (nullable: none for a row without duplicates), ``n_duplicates`` (the other members),
  ``exact_duplicate`` (an identical image exists) and ``conflicting_duplicate_labels`` (the group's labels differ).
- **Leakage**: a test row (not in the support set) that is an exact or near duplicate of a training row:
  ``leaked``, and ``leaks_from``, the id of that training row (the exact match with the lowest row, else the
  nearest training row); missing for training rows.
- **Outliers** (:func:`outlier_scores`): the mean distance to the k nearest training rows (``local_density``; a
  training row's own neighbours exclude itself), read as a conformal p-value: ``outlier_score`` = the share of
  training rows whose score is below the row's (Vovk, Gammerman, Shafer, *Algorithmic learning in a random world*,
  2005; the k-NN nonconformity score of Papadopoulos et al., JAIR 2011). ``outlier``: the score is above the
  training scores' interquartile fence Q3 + 1.5 (Q3 - Q1) (Tukey, *Exploratory data analysis*, 1977; the rule of
  cleanlab's Datalab ``outlier`` issue type).
- **Typicality**: ``uniqueness`` = 0.6 d1 + 0.3 d2 + 0.1 d3 over the three nearest training rows, divided by its
  maximum over the table (FiftyOne Brain's ``compute_uniqueness``); ``prototype_distance`` = the distance to the
  nearest of ``n_prototypes`` k-means centres of the training features (the self-supervised prototype metric of
  Sorscher, Geirhos, Shekhar, Ganguli, Morcos, "Beyond neural scaling laws", NeurIPS 2022; default one centre per
  class); ``representativeness`` = 1 - that distance over the largest distance to the same centre (FiftyOne
  Brain's ``compute_representativeness``, cluster-centre method with per-cluster normalisation; 1 = at a centre).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .._validation import check_labels, check_positive_int, check_seed, to_numpy
from .knn import Neighbours, check_features
from .registry import Measure, register
from .search import KnnSearch, in_process_search
from .support import SupportRows

DATA_QUALITY_COLUMNS = (
    "duplicate_group", "n_duplicates", "exact_duplicate", "conflicting_duplicate_labels", "leaked", "leaks_from",
    "outlier_score", "outlier", "uniqueness", "representativeness", "prototype_distance",
)  # fmt: skip
#: cleanlab's Datalab near-duplicate factor: a pair closer than this times the median nearest-neighbour distance.
NEAR_DUPLICATE_FACTOR = 0.13
UNIQUENESS_WEIGHTS = (0.6, 0.3, 0.1)


def pixel_hashes(images: Any, rows_per_block: int = 4096) -> np.ndarray:
    """Per row of ``images`` (N x ...), the 16-byte BLAKE2b digest of its pixels (bytes, with the row's shape and
    dtype in the hash) as an ``S16`` array; equal digests = identical pixels (collisions: about 2**-64 at 10**9
    images)."""
    arr = to_numpy(images)
    if arr.ndim < 2 or len(arr) == 0:
        raise ValueError(f"images must have shape (n_images, ...), got {arr.shape}")
    header = hashlib.blake2b(f"{arr.shape[1:]}{arr.dtype.str}".encode(), digest_size=16)
    out = np.empty(len(arr), dtype="S16")
    for start in range(0, len(arr), check_positive_int(rows_per_block, "rows_per_block")):
        block = np.ascontiguousarray(arr[start : start + rows_per_block])
        for offset, row in enumerate(block):
            digest = header.copy()
            digest.update(row.tobytes())
            out[start + offset] = digest.digest()
    return out


def exact_duplicate_groups(hashes: Any) -> np.ndarray:
    """Per row, the group of rows with the same hash (0, 1, ... in the order of each group's first row), or -1 for a
    row whose hash no other row shares."""
    h = np.asarray(hashes)
    if h.ndim != 1:
        raise ValueError(f"hashes must be one value per row, got shape {h.shape}")
    _, first, inverse, counts = np.unique(h, return_index=True, return_inverse=True, return_counts=True)
    shared = counts[inverse] > 1
    order = np.argsort(first, kind="stable")  # groups numbered by their first row
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    dense = rank[inverse]
    groups = np.full(len(h), -1, dtype=np.int64)
    if shared.any():
        _, renumbered = np.unique(dense[shared], return_inverse=True)
        groups[shared] = renumbered
    return groups


def near_duplicate_radius(support_neighbours: Neighbours, factor: float = NEAR_DUPLICATE_FACTOR) -> float:
    """``factor`` times the median Euclidean distance from a training row to its nearest other training row."""
    if isinstance(factor, bool) or not np.isfinite(factor) or factor < 0:
        raise ValueError(f"near_factor must be a finite number >= 0, got {factor!r}")
    return float(factor) * float(np.median(np.sqrt(support_neighbours.sq_distances[:, 0])))


def duplicate_groups(n: int, pairs: np.ndarray) -> np.ndarray:
    """Connected components of the duplicate pairs (P x 2 row positions) over ``n`` rows: per row its group (0, 1,
    ... in the order of each group's first row), -1 for a row in no pair."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    graph = coo_matrix((np.ones(len(pairs), dtype=np.int8), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    _, component = connected_components(graph, directed=False)
    sizes = np.bincount(component)
    in_group = sizes[component] > 1
    out = np.full(n, -1, dtype=np.int64)
    if in_group.any():
        _, first = np.unique(component[in_group], return_index=True)
        order = np.argsort(np.flatnonzero(in_group)[first], kind="stable")
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        _, inverse = np.unique(component[in_group], return_inverse=True)
        out[in_group] = rank[inverse]
    return out


def outlier_scores(train_density: Any, density: Any) -> tuple[np.ndarray, np.ndarray, float]:
    """(``outlier_score``, ``outlier``, fence) from the mean k-NN distances of the training rows (their own
    neighbours excluded) and of the rows to score: the score is the share of training rows strictly below the
    row's distance (a conformal p-value, 1 - p), the flag is a distance above Q3 + 1.5 (Q3 - Q1) of the training
    distances."""
    reference = np.sort(np.asarray(train_density, dtype=np.float64))
    d = np.asarray(density, dtype=np.float64)
    if reference.size == 0:
        raise ValueError("outlier scores need at least one training row")
    q1, q3 = np.percentile(reference, [25, 75])
    fence = float(q3 + 1.5 * (q3 - q1))
    return np.searchsorted(reference, d, side="left") / reference.size, d > fence, fence


def uniqueness(neighbour_distances: Any, weights: tuple[float, ...] = UNIQUENESS_WEIGHTS) -> np.ndarray:
    """FiftyOne Brain's uniqueness before normalisation: the mean of the first ``len(weights)`` neighbour distances
    (N x k Euclidean, nearest first) times ``weights``."""
    d = np.asarray(neighbour_distances, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    if d.ndim != 2 or d.shape[1] < len(w):
        raise ValueError(f"uniqueness needs at least {len(w)} neighbour distances per row, got shape {d.shape}")
    return (d[:, : len(w)] * w).mean(axis=1)


def prototypes(features: Any, n_prototypes: int, seed: int = 0) -> np.ndarray:
    """``n_prototypes`` k-means centres (float64) of ``features`` (scikit-learn's ``KMeans``, k-means++ start, one
    initialisation, seeded; ``MiniBatchKMeans`` above 200,000 rows)."""
    seed = check_seed(seed, "seed")
    from sklearn.cluster import KMeans, MiniBatchKMeans

    x = check_features(features, "features")
    k = min(check_positive_int(n_prototypes, "n_prototypes"), len(x))
    if len(x) > 200_000:
        model = MiniBatchKMeans(n_clusters=k, random_state=seed, n_init=1, batch_size=4096)
    else:
        model = KMeans(n_clusters=k, random_state=seed, n_init=1)
    return model.fit(np.asarray(x, dtype=np.float32)).cluster_centers_.astype(np.float64)


def nearest_prototype(features: Any, centres: Any, rows_per_block: int = 16384) -> tuple[np.ndarray, np.ndarray]:
    """(index, float64 Euclidean distance) of the nearest centre of every row, ties to the lower centre."""
    c = np.asarray(centres, dtype=np.float64)
    x = to_numpy(features)
    index = np.empty(len(x), dtype=np.int64)
    distance = np.empty(len(x))
    c_sq = (c**2).sum(axis=1)
    for start in range(0, len(x), rows_per_block):
        block = np.asarray(x[start : start + rows_per_block], dtype=np.float64)
        sq = np.maximum((block**2).sum(axis=1, keepdims=True) - 2.0 * block @ c.T + c_sq[None, :], 0.0)
        best = sq.argmin(axis=1)
        index[start : start + len(block)] = best
        exact = ((block - c[best]) ** 2).sum(axis=1)  # the chosen centre's distance without cancellation
        distance[start : start + len(block)] = np.sqrt(exact)
    return index, distance


@dataclass(frozen=True)
class DataQualitySummary:
    """Per class (given label) of a data-quality table (:func:`data_quality_summary`): ``labelled``,
    ``exact_duplicates`` and ``near_duplicates`` (rows with an identical / any duplicate), ``conflicting`` (rows in a
    group whose labels differ), ``leaked`` (test rows that duplicate a training row) and ``outliers``; and the totals
    in ``counts``."""

    per_class: pd.DataFrame
    counts: dict[str, int]


def data_quality_summary(df: pd.DataFrame, class_names: Any = None) -> DataQualitySummary:
    """The per-class counts of an Analysis frame with the data-quality columns."""
    missing = [c for c in ("label", "n_duplicates", "exact_duplicate", "leaked", "outlier") if c not in df.columns]
    if missing:
        raise ValueError(f"the table lacks the data-quality columns {missing}: analyze with features first")
    y = df["label"].to_numpy(np.int64)
    c = int(y.max()) + 1 if class_names is None else len(class_names)
    if class_names is None and c > max(len(y), 2**20):  # one row per class in the table
        raise ValueError(
            f"df['label'] goes up to {c - 1} for {len(y)} rows: pass class_names or code the classes 0..C-1"
        )

    def count(mask: Any) -> np.ndarray:
        return np.bincount(y[pd.Series(mask).fillna(False).to_numpy(bool)], minlength=c)

    per_class = pd.DataFrame(
        {
            "class": np.arange(c),
            "name": [str(i) for i in range(c)] if class_names is None else [str(n) for n in class_names],
            "labelled": np.bincount(y, minlength=c),
            "exact_duplicates": count(df["exact_duplicate"]),
            "near_duplicates": count(df["n_duplicates"].to_numpy() > 0),
            "conflicting": count(df["conflicting_duplicate_labels"]),
            "leaked": count(df["leaked"]),
            "outliers": count(df["outlier"]),
        }
    )
    groups = df["duplicate_group"].dropna()
    counts = {column: int(per_class[column].sum()) for column in per_class.columns[3:]}
    counts["duplicate_groups"] = int(groups.nunique())
    return DataQualitySummary(per_class, counts)


def data_quality_scores(
    features: Any,
    labels: Any,
    support_mask: Any = None,
    pixel_hashes: Any = None,
    ids: Any = None,
    k: int = 30,
    near_factor: float = NEAR_DUPLICATE_FACTOR,
    n_prototypes: int | None = None,
    device: Any = None,
    precision: str = "auto",
    memory_budget: int | str | None = None,
    search: KnnSearch | None = None,
) -> pd.DataFrame:
    """Registry adapter: every column of the module docstring for every row of a table.

    ``features`` (N x D) and ``labels`` (N,); ``support_mask``: the training rows (every row when ``None``);
    ``pixel_hashes``: one hash per row (:func:`pixel_hashes`) for the exact duplicates (without them, identical
    images are found as near duplicates at distance 0); ``ids``: the rows' ids, for ``leaks_from`` (default: the
    row positions); ``n_prototypes``: k-means centres (default: one per class). ``device``, ``precision``,
    ``memory_budget``, ``search``: the k-NN searches, as in :func:`~difficulty_widget.measures.data.data_scores`
    (whose two searches these are: inside ``analyze`` they are answered once for both).
    """
    x = check_features(features, "features")
    y = check_labels(labels, n=len(x))
    n = len(x)
    rows = SupportRows.from_mask(support_mask, n)
    row_ids = np.arange(n) if ids is None else to_numpy(ids)
    if len(row_ids) != n:
        raise ValueError(f"ids has {len(row_ids)} values, expected {n}")
    hashes = None if pixel_hashes is None else np.asarray(pixel_hashes)
    if hashes is not None and hashes.shape != (n,):
        raise ValueError(f"pixel_hashes must hold one hash per row ({n},), got shape {hashes.shape}")
    if search is None:
        search = in_process_search(memory_budget)
    support_x = rows.take(x, rows.support)
    k = min(check_positive_int(k, "k"), len(support_x) - 1)
    if k < 3:
        raise ValueError("data quality needs at least four support (training) rows")

    def find(query: np.ndarray, support: np.ndarray, kk: int, exclude_self: bool) -> Neighbours:
        return search(query, support, kk, exclude_self=exclude_self, precision=precision, device=device)

    train_nn = find(support_x, support_x, k, True)  # the data scores' searches
    radius = near_duplicate_radius(train_nn, near_factor)
    density = np.empty(n)
    density[rows.support] = np.sqrt(train_nn.sq_distances).mean(axis=1)
    close = np.empty((n, len(UNIQUENESS_WEIGHTS)))
    close[rows.support] = np.sqrt(train_nn.sq_distances[:, : len(UNIQUENESS_WEIGHTS)])
    pairs = [_pairs_within(rows.support, rows.support, train_nn, radius)]
    nearest_train = np.full(n, -1, dtype=np.int64)
    nearest_train_distance = np.full(n, np.inf)
    if rows.others.size:
        other_x = rows.take(x, rows.others)
        other_nn = find(other_x, support_x, k, False)
        density[rows.others] = np.sqrt(other_nn.sq_distances).mean(axis=1)
        close[rows.others] = np.sqrt(other_nn.sq_distances[:, : len(UNIQUENESS_WEIGHTS)])
        pairs.append(_pairs_within(rows.others, rows.support, other_nn, radius))
        nearest_train[rows.others] = rows.support[other_nn.indices[:, 0]]
        nearest_train_distance[rows.others] = np.sqrt(other_nn.sq_distances[:, 0])
        if len(other_x) > 1:  # duplicates inside the other (test) rows
            among = find(other_x, other_x, min(k, len(other_x) - 1), True)
            pairs.append(_pairs_within(rows.others, rows.others, among, radius))
    exact = np.full(n, -1, dtype=np.int64) if hashes is None else exact_duplicate_groups(hashes)
    if hashes is not None:
        pairs.append(_group_pairs(exact))
    groups = duplicate_groups(n, np.concatenate(pairs))
    member = groups >= 0
    n_duplicates = np.zeros(n, dtype=np.int64)
    conflicting = np.zeros(n, dtype=bool)
    if member.any():
        sizes = np.bincount(groups[member])
        n_duplicates[member] = sizes[groups[member]] - 1
        low = np.full(len(sizes), np.iinfo(np.int64).max)
        high = np.full(len(sizes), -1)
        np.minimum.at(low, groups[member], y[member])
        np.maximum.at(high, groups[member], y[member])
        conflicting[member] = low[groups[member]] != high[groups[member]]

    leaked = pd.array([pd.NA] * n, dtype="boolean")
    leaks_from = pd.array([pd.NA] * n, dtype="Int64")
    if rows.others.size:
        is_train = np.zeros(n, dtype=bool)
        is_train[rows.support] = True
        source = np.where(nearest_train_distance[rows.others] <= radius, nearest_train[rows.others], -1)
        if hashes is not None:
            identical = _first_training_match(exact, is_train)[rows.others]
            source = np.where(identical >= 0, identical, source)
        leaked[rows.others] = source >= 0
        found = rows.others[source >= 0]
        leaks_from[found] = row_ids[source[source >= 0]].astype(np.int64)

    score, flag, _ = outlier_scores(density[rows.support], density)
    unique = uniqueness(close)
    top = unique.max()
    centres = prototypes(support_x, len(np.unique(y[rows.support])) if n_prototypes is None else n_prototypes)
    cluster, distance = nearest_prototype(x, centres)
    largest = np.zeros(len(centres))
    np.maximum.at(largest, cluster, distance)
    group_column = pd.array(groups, dtype="Int64")
    group_column[~member] = pd.NA
    frame = pd.DataFrame(
        {
            "duplicate_group": group_column,
            "n_duplicates": n_duplicates.astype(np.int64),
            "exact_duplicate": exact >= 0,
            "conflicting_duplicate_labels": conflicting,
            "leaked": leaked,
            "leaks_from": leaks_from,
            "outlier_score": score,
            "outlier": flag,
            "uniqueness": unique / top if top > 0 else unique,
            "representativeness": 1.0 - np.divide(distance, largest[cluster], out=np.zeros(n),
                                                  where=largest[cluster] > 0),
            "prototype_distance": distance,
        }
    )  # fmt: skip
    return frame


def _pairs_within(query_rows: np.ndarray, support_rows: np.ndarray, nn: Neighbours, radius: float) -> np.ndarray:
    """(query row, support row) pairs, as table rows, of the neighbours within ``radius``."""
    close = nn.sq_distances <= radius * radius
    q, j = np.nonzero(close)
    return np.stack([query_rows[q], support_rows[nn.indices[q, j]]], axis=1)


def _group_pairs(groups: np.ndarray) -> np.ndarray:
    """Each row of a group (numbered 0, 1, ...; -1 = none) paired with its group's first row."""
    member = np.flatnonzero(groups >= 0)
    _, first = np.unique(groups[member], return_index=True)  # groups are 0..G-1: heads[g] is group g's first row
    heads = member[first]
    return np.stack([member, heads[groups[member]]], axis=1)


def _first_training_match(groups: np.ndarray, is_train: np.ndarray) -> np.ndarray:
    """Per row, the lowest training row with the same exact-duplicate group (-1: none)."""
    out = np.full(len(groups), -1, dtype=np.int64)
    train_members = np.flatnonzero((groups >= 0) & is_train)
    if train_members.size == 0:
        return out
    first = np.full(int(groups.max()) + 1, -1, dtype=np.int64)
    first[groups[train_members][::-1]] = train_members[::-1]  # the lowest row wins (written last)
    member = groups >= 0
    out[member] = first[groups[member]]
    return out


_OPTIONAL = ("support_mask", "pixel_hashes", "ids", "device", "precision", "memory_budget", "search")
_DQ = "cleanlab Datalab (near duplicates, outliers); FiftyOne Brain (uniqueness, representativeness)."
for _measure in (
    Measure(
        "n_duplicates", "data", ("features", "labels"), "hard = high", "{0, 1, ...}",
        "Other images in its duplicate group: identical pixels, or features within 0.13 x the median nearest-"
        "neighbour distance.", _DQ, data_quality_scores, _OPTIONAL,
    ),
    Measure(
        "conflicting_duplicate_labels", "data", ("features", "labels"), "hard = high", "{False, True}",
        "Its duplicate group carries more than one label.", _DQ, data_quality_scores, _OPTIONAL,
    ),
    Measure(
        "leaked", "data", ("features", "labels"), "hard = high", "{False, True}",
        "A test image that duplicates a training image (exact or near); missing for training images.", _DQ,
        data_quality_scores, _OPTIONAL,
    ),
    Measure(
        "outlier_score", "data", ("features", "labels"), "hard = high", "[0, 1]",
        "Share of training images whose mean 30-NN distance is below its own (conformal p-value, 1 - p).",
        "Vovk, Gammerman, Shafer 2005 (conformal prediction); Papadopoulos et al., JAIR 2011 (k-NN score).",
        data_quality_scores, _OPTIONAL,
    ),
    Measure(
        "outlier", "data", ("features", "labels"), "hard = high", "{False, True}",
        "Mean 30-NN distance above Q3 + 1.5 IQR of the training images' (Tukey's fence, as cleanlab Datalab).",
        _DQ, data_quality_scores, _OPTIONAL,
    ),
    Measure(
        "uniqueness", "data", ("features", "labels"), "hard = high", "[0, 1]",
        "0.6 d1 + 0.3 d2 + 0.1 d3 to the nearest training images, over its maximum (FiftyOne Brain).", _DQ,
        data_quality_scores, _OPTIONAL,
    ),
    Measure(
        "representativeness", "data", ("features", "labels"), "hard = low", "[0, 1]",
        "1 - distance to its k-means centre over the largest distance to that centre (FiftyOne Brain).", _DQ,
        data_quality_scores, _OPTIONAL,
    ),
    Measure(
        "prototype_distance", "data", ("features", "labels"), "hard = high", "[0, inf)",
        "Distance to the nearest k-means centre of the training features (one per class).",
        "Sorscher, Geirhos, Shekhar, Ganguli, Morcos, NeurIPS 2022 (self-supervised prototypes).",
        data_quality_scores, _OPTIONAL,
    ),
):  # fmt: skip
    register(_measure)
