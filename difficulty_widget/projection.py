"""A 2-D map of instances from an embedding (the Explorer's "projection of instance similarity" view).

:func:`project` turns an (N, d) embedding into (N, 2) coordinates; :func:`add_projection` stores them in an
:class:`~difficulty_widget.analysis.Analysis` as ``proj_x``/``proj_y`` and records how they were made.

Methods:

- ``"pca"`` (default, always available): the first two principal components by randomised low-rank SVD
  (Halko, Martinsson, Tropp, "Finding structure with randomness", SIAM Review 2011; ``torch.pca_lowrank``).
  Seeded without touching the global torch RNG, and each component's sign is fixed (its largest-magnitude
  loading is positive), so a seed gives the same map on every run.
- ``"umap"``: UMAP (McInnes, Healy, Melville, arXiv:1802.03426, 2018), needs ``pip install umap-learn``.
- ``"tsne"``: t-SNE (van der Maaten & Hinton, JMLR 2008) as implemented by openTSNE (Poličar, Stražar,
  Zupan, J. Stat. Softw. 2024), needs ``pip install openTSNE``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import numpy as np

from ._validation import check_bool, to_numpy

if TYPE_CHECKING:
    from .analysis import Analysis

METHODS: tuple[str, ...] = ("pca", "umap", "tsne")
_PACKAGES = {"umap": ("umap", "umap-learn"), "tsne": ("openTSNE", "openTSNE")}
# Randomised PCA: extra basis vectors beyond the 2 wanted, and power iterations (Halko et al. 2011, sec. 4.3-4.5).
_PCA_OPTIONS = {"oversample": 10, "niter": 4}


def project(features: Any, method: str = "pca", *, seed: int = 0, **options: Any) -> np.ndarray:
    """2-D coordinates (N, 2, float32) of the rows of ``features`` (N, d), deterministic given ``seed``.

    ``options`` go to the method: for ``"pca"`` ``oversample`` (default 10) and ``niter`` (default 4);
    for ``"umap"`` to ``umap.UMAP`` and for ``"tsne"`` to ``openTSNE.TSNE`` (``n_components`` and
    ``random_state`` are set from here).
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    arr = _check_features(features)
    if method == "pca":
        unknown = sorted(set(options) - set(_PCA_OPTIONS))
        if unknown:
            raise ValueError(f"options {unknown} are not known to method='pca'; valid options: {sorted(_PCA_OPTIONS)}")
        return _pca(arr, int(seed), **{**_PCA_OPTIONS, **options})
    module_name, package = _PACKAGES[method]
    reserved = sorted({"n_components", "random_state"} & set(options))
    if reserved:
        raise ValueError(f"options {reserved} are set by project() (2 components, random_state=seed); drop them")
    try:
        module = __import__(module_name)
    except ImportError:
        raise ValueError(f"method={method!r} needs the package {package!r}: pip install {package}") from None
    if method == "umap":
        coords = module.UMAP(n_components=2, random_state=int(seed), **options).fit_transform(arr)
    else:
        coords = module.TSNE(n_components=2, random_state=int(seed), **options).fit(arr)
    return np.ascontiguousarray(np.asarray(coords), dtype=np.float32)


def add_projection(
    analysis: Analysis,
    features: Any,
    method: str = "pca",
    *,
    probe: str | None = None,
    seed: int = 0,
    prefix: str = "proj",
    overwrite: bool = False,
    **options: Any,
) -> Analysis:
    """Add ``{prefix}_x`` and ``{prefix}_y`` (float32) from :func:`project` to ``analysis`` and return it.

    ``features`` has one row per row of ``analysis.df``, in the same order; ``probe`` names the layer they come
    from (recorded only); ``options`` go to :func:`project`. ``{"method", "probe", "seed", "options", "columns"}``
    is recorded in ``analysis.provenance["projection"]`` (``"projection_{prefix}"`` for another prefix; options
    that are not JSON values as their ``repr``). Existing columns are replaced only with ``overwrite=True``, as
    in :meth:`Analysis.add_columns`.
    """
    overwrite = check_bool(overwrite, "overwrite")
    from .analysis import Analysis

    if not isinstance(analysis, Analysis):
        raise ValueError(f"analysis must be an Analysis, got {type(analysis).__name__}")
    if not isinstance(prefix, str) or not prefix.isidentifier():
        raise ValueError(f"prefix must be a non-empty identifier such as 'proj', got {prefix!r}")
    if probe is not None and not isinstance(probe, str):
        raise ValueError(f"probe must be a layer name (str) or None, got {type(probe).__name__}")
    columns = [f"{prefix}_x", f"{prefix}_y"]
    clash = [c for c in columns if c in analysis.df.columns]
    if clash and not overwrite:  # checked before the (possibly long) projection runs
        raise ValueError(f"columns {clash} already exist; pass overwrite=True to replace them")
    arr = _check_features(features)
    if len(arr) != len(analysis):
        raise ValueError(f"features has {len(arr)} rows, expected {len(analysis)} (one per row of analysis.df)")
    coords = project(arr, method, seed=seed, **options)
    options_record = {key: value if _is_json(value) else repr(value) for key, value in options.items()}
    record = {"method": method, "probe": probe, "seed": int(seed), "options": options_record, "columns": columns}
    analysis.add_columns({columns[0]: coords[:, 0], columns[1]: coords[:, 1]}, overwrite=overwrite)
    analysis.provenance["projection" if prefix == "proj" else f"projection_{prefix}"] = record
    return analysis


def _is_json(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def _check_features(features: Any) -> np.ndarray:
    arr = to_numpy(features)
    if arr.ndim != 2:
        raise ValueError(f"features must be a 2-D array of shape (n_instances, n_features), got shape {arr.shape}")
    if arr.shape[0] < 3:
        raise ValueError(f"features must have at least 3 rows (instances) for a 2-D map, got {arr.shape[0]}")
    if arr.shape[1] < 2:
        raise ValueError(f"features must have at least 2 columns (features) for a 2-D map, got {arr.shape[1]}")
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
        raise ValueError(f"features must be real numbers, got dtype {arr.dtype}")
    arr = np.ascontiguousarray(arr, dtype=np.float64 if arr.dtype == np.float64 else np.float32)
    finite = np.isfinite(arr).all(axis=1)
    if not finite.all():
        raise ValueError(
            f"features contains NaN or infinite values in {int((~finite).sum())} row(s) "
            f"(first: {np.flatnonzero(~finite)[:5].tolist()}); expected finite numbers"
        )
    return arr


def _pca(arr: np.ndarray, seed: int, *, oversample: int, niter: int) -> np.ndarray:
    """Scores on the first two principal components, each component's largest-|loading| entry positive."""
    import torch

    for name, value in (("oversample", oversample), ("niter", niter)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    x = torch.from_numpy(arr)
    centred = x - x.mean(dim=0, keepdim=True)
    q = min(2 + int(oversample), *arr.shape)
    with torch.random.fork_rng(devices=[]):  # seeds pca_lowrank's random basis without touching the global RNG
        torch.manual_seed(seed)
        _, _, v = torch.pca_lowrank(centred, q=q, center=False, niter=int(niter))
    v = v[:, :2]
    pivot = v.abs().argmax(dim=0)
    signs = torch.where(v[pivot, torch.arange(2)] < 0, -1.0, 1.0).to(v.dtype)
    return (centred @ (v * signs)).numpy().astype(np.float32, copy=False)
