"""Exact k nearest neighbours (Euclidean), shared by prediction depth, the data-perspective scores and the views.

**Rule.** The neighbours of a query are the first ``k`` support points in the order of (squared distance, support
index), so equal distances resolve to the lower index. The distance is the float64 value of ``sum((s - q)^2)`` on
the original arrays: computed with numpy on the CPU (bit for bit what a numpy brute force gives), with torch in
float64 on the device when one is given.

**Search.** The support set is centred on its mean ``m`` (the float64 mean, computed blockwise, rounded to float32:
any common shift leaves every distance unchanged, and this one takes out a common offset or the positive mean of
ReLU activations, which would otherwise dominate the norms that the float32 error grows with). The centred rows
``y = fl32(s - m)`` are one float32 copy, made block by block (no float64 copy of the support set); each chunk of
queries is centred the same way, ``x = fl32(q - m)``. Where centring would shrink the norms by under 5%
(``|m|^2`` under 5% of the mean squared distance to ``m``, both estimated from 1024 rows: data centred already)
``m = 0`` and a float32 support set is used as it is, without a copy. Float32 distances ``V = |x|^2 - 2 x.y +
|y|^2`` are computed over blocks of query rows x support columns written into one reused buffer (``|y|^2 - 2 x.y``
in one product, ``|x|^2`` added in float64 after the search), and the ``k + 16`` smallest of each row are found
(per column block, through minima of column groups, then merged). Inside the search TF32 (CUDA) and
reduced-precision float32 products (oneDNN bf16) are switched off and the settings restored afterwards, so that
the products are IEEE float32.

**Error bound (deterministic).** For a pair with centred float32 norms ``a = |x|``, ``b = |y|`` (computed in
float64) and dimension ``d``, with ``u = 2^-24``::

    |V - D| <= e(a, b) = c_d (a + b)^2 + eta,    c_d = (d + 8) u / (1 - (d + 8) u),

``D`` the float64 distance of the rule. Derivation (Higham, *Accuracy and Stability of Numerical Algorithms*, 2nd
ed., 2002, section 3.1: a sum of ``n`` products evaluated in floating point in *any* order, with or without fused
multiply-adds, errs by at most ``gamma_n = n u / (1 - n u)`` times the sum of the products' absolute values), to
first order in ``u``:

- centring: ``x = (q - m)(1 + theta)`` elementwise with ``|theta| <= u`` (one rounding; ``+ 2^-53`` for float64
  input), so ``| |x - y|^2 - |q - s|^2 | <= 2 u (a + b)^2``;
- ``|y|^2`` rounded to float32 for the product: ``u b^2``;
- the product ``|y|^2 - 2 x.y`` is a sum of ``d + 1`` products (``alpha = -2``, ``beta = 1`` are exact):
  ``gamma_{d+1} (b^2 + 2 |x||y|) <= gamma_{d+1} (a + b)^2`` (Cauchy-Schwarz);
- the float64 steps (``|x|^2``, the final sum, and the float64 evaluation of ``D`` itself) add
  ``O(d 2^-53)(a + b)^2``, far below ``u (a + b)^2``.

That is ``(d + 4) u (a + b)^2``; ``c_d`` keeps ``4 u`` more for the second-order and float64 terms and the rounding
of the bound's own arithmetic. ``eta = (d + 2) 2^-120 (1 + a + max b)`` covers underflow (gradual, or flushed to
zero). The bound holds for every BLAS blocking and summation order, threads and split-K included (valid for
``d < 2^22``). It replaces the probabilistic bound ``8 sqrt(d) u (|q| + max|s|)^2`` (Higham & Mary, SIAM J. Sci.
Comput. 2019) used before: that one is tighter by about ``sqrt(d) / 8`` but is not a proof, and charged every row
for the largest support norm. With the proof below it stays tight enough: on ResNet-18 probes of Fashion-MNIST
(512 to 4096 values) at most 1.4% of rows needed the wider search and none the float64 pass, also with 1% of
the support rows scaled to 13 times their norm or 1e4 added to every feature.

**Proof, per query row.** Candidates ``j`` (ascending ``V_j``) have ``L_j = V_j - e_j <= D_j <= U_j = V_j + e_j``.

- The k-th neighbour's distance is at most ``U_(k)``, the k-th smallest ``U`` among candidates (k candidates lie at
  or below it): a point with ``L_j > U_(k)`` is *out*.
- A candidate with ``U_j < L_(k+1)``, the (k+1)-th smallest ``L``, has fewer than ``k`` points that can come before
  it: it is *in*. At most ``k`` are in, at least ``k`` are not out.
- The others (the band) are re-measured in float64; the first ``k - #in`` of them by (distance, index) complete
  the set. Most rows need none: exactly ``k`` candidates are not out.

This is the exact set if no non-candidate ``t`` can reach ``U_(k)``. A non-candidate has ``V_t >= V_last`` (the
largest candidate value), so ``D_t >= V_last - e(a, b_t)``, which rules out every ``b_t < b_A = sqrt((V_last -
U_(k) - eta) / c_d) - a``; and ``D_t >= (b_t - a)^2`` (triangle inequality, with slack for the rounding of the
norms), which rules out every ``b_t`` outside ``[a - sqrt(U_(k)), a + sqrt(U_(k))]``. The row is proven when no
support norm lies in ``[max(b_A, a - sqrt(U_(k))), a + sqrt(U_(k))]`` (a binary search in the sorted support
norms): support points with outlying norms are ruled out by the triangle inequality instead of widening every
row's bound. Rows not proven are searched again with 8, then 64 times as many candidates
(``Neighbours.widened_rows``); the few left (many exact ties, say) are recomputed in float64 against every support
point (``Neighbours.fallback_rows``). The neighbours' distances are re-measured in float64 with the direct formula
``sum((s - q)^2)`` when asked.

**Bfloat16 candidates** (``precision="bf16"``, and ``"auto"`` where the device multiplies bfloat16 fast). The same
proof runs on values from one bfloat16 product per block (float32 sums, bfloat16 output; 4-6 times the float32
rate on CPUs with AMX or AVX512-BF16, and tensor cores on GPUs). Rows are laid out so that the product gives the
whole squared distance: a support row is ``[bf16(y), n1, n2, n3, 1, 1, 1]``, a query row ``[-2 bf16(x), 1, 1, 1,
m1, m2, m3]`` (zero-padded to a multiple of 32 columns), where ``n1 + n2 + n3`` is ``|y|^2`` split into three
bfloat16 parts (residual under ``2^-23 |y|^2``); ``-2`` scales exactly. The computed value ``V`` then errs from
``D`` by at most::

    e = 2 ((a + r_x) r_y + r_x b) + c (a + b)^2 + u_b / (1 - u_b) |V| + eta,   u_b = 2^-8,

with ``r_x = |x - bf16(x)|``, ``r_y = |y - bf16(y)|`` (the rounding residuals, computed exactly in float32 and
their norms in float64). Derivation: ``x.y - bf16(x).bf16(y) = bf16(x).(y - bf16(y)) + (x - bf16(x)).y``, so
Cauchy-Schwarz bounds the inputs' rounding by ``(a + r_x) r_y + r_x b`` (about ``2^-9.5 (a + b) ab``: the
residuals of real activations are about 0.42 ``u_b`` of the norm, 2.4 times tighter than the worst case ``u_b``
per element); the products of two bfloat16 values are exact in float32; the sum of the ``n`` (padded width)
products in float32, in any order, errs by ``gamma_n`` times the sum of their absolute values, at most ``(1 +
2^-6)(a + b)^2`` (``c`` takes ``gamma_n`` with a unit of ``2^-23`` on the CPU, allowing any rounding direction,
and ``2^-22`` on CUDA, whose tensor cores truncate and align before adding; plus ``4 * 2^-24`` for the centring
and ``2^-22`` for the norm parts and float64 slack); the output's rounding to bfloat16 adds ``u_b |s| <= u_b /
(1 - u_b) |V|``. For the outsiders, ``r_y <= rho b`` with ``rho`` the largest ``r_y / b`` of the support set
makes the pair term at most ``slope * b`` per row, and the proof's threshold norm ``b_A`` solves ``c (a + b)^2 +
slope b = (1 - u_b / (1 - u_b)) V_last - U_(k) - eta``. The bound assumes what bfloat16 products do on current
hardware: inputs exact, sums kept in float32 until the output is rounded. That is checked on the device, once
per block shape of the search (the chunk's rows and the wider search's, against a full column block; the last,
smaller blocks of a search use the same kernels), with a product that comes out exact only then
(``_bf16_sums_in_float32``); without it ``"bf16"``
raises and ``"auto"`` uses float32 (and, on CUDA, reduced-precision split-K reductions are switched off
inside the search).

Each row gets ``k + 64`` bfloat16 candidates; rows not proven are searched again in bfloat16 with 8 times as
many, then in float32 as above (``Neighbours.rechecked_rows``; the float32 copy of the support set is made only
then). ``"auto"`` uses bfloat16 with at least 256 features and 256 queries, and goes back to float32 for the
rest of the queries when its first bfloat16 search, a trial on 256 queries, proves under 80% of them (Gaussian
noise in many dimensions, where all distances are nearly equal: on real activations the share is 94-100%).
Which precision ran is ``Neighbours.precision``; the neighbour sets, their order and distances are the same for
every precision.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from .._validation import check_bool, check_positive_int, to_numpy

_UNIT_ROUNDOFF32 = 2.0**-24
_NORM_SLACK = 2.0**-22  # relative error of a computed centred norm against the exact shifted vector's norm
_FLOAT64_SLACK = 2.0**-30  # relative error of a float64 distance (d < 2**22)
_SAFETY = 2.0**-40  # relative slack on the float64 arithmetic of the proof's thresholds
_CENTRE_GAIN = 0.05  # centre when the mean's squared norm exceeds this share of the mean squared distance to it
# Temporaries are small and made once per call where possible: large ones freed and made again leave glibc's
# heap fragmented (hundreds of MB held after the call), and fresh pages cost page faults.
_CACHE_VALUES = 2**16  # values per float64 temporary in the re-measurements (512 KB: stays in cache)
_CHECK_VALUES = 2**20  # values per block in the finiteness check, the centring and the norms
_BLOCK_DISTANCES = 2**24  # float32 distances per product block (64 MB)
_CHUNK_ROWS = 1024  # default queries per chunk at least: fewer re-reads of the support set per query
_DEVICE_BLOCK_DISTANCES = 2**27  # the same on an accelerator (512 MB): fewer, larger products
_DEVICE_CHUNK_ROWS = 8192
_DEVICE_VALUES = 2**25  # values per float64 temporary in the re-measurements on an accelerator (256 MB)
_GROUP = 8  # columns per group in the search for the smallest distances of a row
#: Extra float32 candidates per row beyond k, so that a near-tie band rarely needs a wider search.
EXTRA_CANDIDATES = 16
#: Factors by which the candidates of a row that the first search could not prove are widened, in turn.
WIDENING = (8, 64)
#: Extra bfloat16 candidates per row beyond k: the bfloat16 bound (about 2^-6 |x||y|) leaves a wider band.
BF16_EXTRA_CANDIDATES = 64
#: The precisions of the candidate search (``nearest_neighbours(precision=...)``).
PRECISIONS = ("auto", "bf16", "fp32", "fp64")
_UNIT_ROUNDOFF_BF16 = 2.0**-8
_UNIT_ROUNDOFF64 = 2.0**-53
# unit of the float32 accumulation inside a bfloat16 product: twice IEEE's 2^-24 on the CPU (any rounding
# direction), 2^-22 on CUDA tensor cores (they truncate, and align significands before adding)
_ACCUMULATION_UNIT = {"cpu": 2.0**-23, "cuda": 2.0**-22}
_BF16_PAD = 32  # product width multiple (a bfloat16 tile row on AMX)
_BF16_MIN_FEATURES = 256  # auto: fewer stay float32 (measured: at 128 the selection, not the product, dominates)
_BF16_MIN_QUERIES = 256  # auto: fewer queries than this stay float32 (the bfloat16 copy would not pay)
_BF16_MIN_CERTIFIED = 0.8  # auto: when fewer rows of the trial are proven in bfloat16, the rest go float32
_BF16_TRIAL_ROWS = 256  # auto: the first bfloat16 search, on this many queries, decides whether to go on


@dataclass
class Neighbours:
    """``indices`` (N x k, int64) into the support set and their squared distances (N x k, float64),
    each row ordered by (distance, index)."""

    indices: np.ndarray
    sq_distances: np.ndarray
    fallback_rows: int = 0  # rows that needed the full float64 pass (for benchmarks and tests)
    error_bounds: np.ndarray | None = None  # per row, a bound on |sq_distances - exact| (None: exact)
    widened_rows: int = 0  # rows searched again with more candidates (before any fallback)
    precision: str = "fp32"  # the precision of the first candidate search
    rechecked_rows: int = 0  # rows the bfloat16 search could not prove, searched again in float32
    remeasured_rows: int = 0  # rows whose set needed float64 re-measurements of near-tie candidates
    first_rows: int = 0  # rows proven by the first candidate search (the rest: widened, float32, float64)


MAX_MAGNITUDE = 2.0**480
"""Features must lie within (1 / MAX_MAGNITUDE, MAX_MAGNITUDE) in magnitude (all zeros allowed): their squared
distances, summed over up to 2**40 dimensions, then stay inside float64's normal range."""


def check_features(features: Any, name: str) -> np.ndarray:
    """A finite 2-D float array (N x d) with N >= 1."""
    arr = to_numpy(features)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (n_instances, n_features), got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name} is empty: got shape {arr.shape}")
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise ValueError(f"{name} must be numeric, got dtype {arr.dtype}")
    if arr.dtype == bool:
        raise ValueError(f"{name} must hold real numbers, got dtype bool")
    step = max(1, _CHECK_VALUES // arr.shape[1])  # in blocks: no full-size temporary
    peak = 0.0
    for i in range(0, len(arr), step):
        block = arr[i : i + step]
        if np.issubdtype(arr.dtype, np.floating) and not np.isfinite(block).all():
            raise ValueError(f"{name} contains NaN or infinite values")
        peak = max(peak, float(np.abs(block).max()))
    # squared distances of such values overflow (or underflow to ties in) float64: the neighbours would be wrong
    if peak >= MAX_MAGNITUDE or 0.0 < peak <= 1.0 / MAX_MAGNITUDE:
        raise ValueError(
            f"{name} has values of magnitude {peak:.3g}: squared distances between such vectors leave float64's "
            f"range, so neighbours could not be exact; rescale the features (e.g. divide by {peak:.3g}) first"
        )
    return arr


def check_device(device: Any) -> Any:
    """``device`` as a ``torch.device`` (None: the CPU); a name torch does not know is a ValueError naming it."""
    import torch

    if device is None:
        return torch.device("cpu")
    if not isinstance(device, (str, torch.device)):
        raise TypeError(f"device must be a torch.device or its name such as 'cuda:0', got {type(device).__name__}")
    try:
        return torch.device(device)
    except RuntimeError as error:
        raise ValueError(f"device must be a torch device name such as 'cpu' or 'cuda:0', got {device!r}") from error


def check_precision(precision: Any) -> str:
    """``precision`` if it is one of :data:`PRECISIONS`, else a ``ValueError`` naming them."""
    if not isinstance(precision, str) or precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(map(repr, PRECISIONS))}, got {precision!r}")
    return precision


def nearest_neighbours(
    query: Any,
    support: Any,
    k: int,
    *,
    exclude_self: bool | Any = False,
    exact_distances: bool = True,
    chunk_size: int | None = None,
    device: Any = None,
    precision: str = "auto",
) -> Neighbours:
    """The exact ``k`` nearest support points of every query (see the module docstring for the rule).

    ``exclude_self=True`` means the queries are the support set (same rows): each row's own entry is dropped.
    An integer array instead gives, per query, the support row that is the query itself (``-1``: none), for
    queries that are support rows at an offset (a block of a support set streamed from disk, say).
    The *set* of neighbours is always exact. With ``exact_distances=True`` (default) their squared distances
    are re-measured in float64 and each row is ordered by (distance, index); with ``False`` (what prediction
    depth needs: a vote depends on the set only) rows are ordered by the float32 distances, which are returned
    with a per-row bound on their error (``error_bounds``), and no float64 pass is made over the neighbours.
    Queries are processed in chunks of ``chunk_size`` rows (default: 1024, or more while a chunk's distances to
    all support points stay within 2**24 float32 values); each chunk's distances are computed in support-column
    blocks of at most 2**24 values (64 MB). ``device`` (a torch device or its name; default the CPU) runs the
    whole search there: the centred float32 support set, the products and the float64 re-measurements (for
    which the original support set is copied to the device too; on the CPU the caller's arrays are used), with
    chunks of 8192 rows and blocks of 2**27 values by default. ``fallback_rows`` and ``widened_rows`` of the
    result count the rows that needed the full float64 pass and a wider candidate search.

    ``precision`` is that of the candidate search; the result is the same for each. ``"bf16"``: bfloat16
    products (float32 accumulation) select ``k + 64`` candidates per row; the rows they cannot prove are searched
    again in float32 (``rechecked_rows``). ``"fp32"``: float32 products; ``"fp64"``: float64 products.
    ``"auto"`` (default): ``"bf16"`` where the device multiplies bfloat16 fast (CUDA; a CPU with AVX512-BF16 or
    AMX) and passes a check of its accumulation, with at least 256 features and 256 queries, switching to float32
    when a first trial on 256 queries proves under 80% of them; else ``"fp32"``. ``precision`` of the result says
    which was used.
    """
    exact_distances = check_bool(exact_distances, "exact_distances")

    q = check_features(query, "query")
    s = check_features(support, "support")
    if q.shape[1] != s.shape[1]:
        raise ValueError(f"query has {q.shape[1]} features but support has {s.shape[1]}")
    k = check_positive_int(k, "k")
    own_rows = _own_rows(exclude_self, len(q), len(s))
    if own_rows is not None and not (own_rows >= 0).any():
        own_rows = None  # no query is a support row
    available = len(s) - (1 if own_rows is not None else 0)
    if k > available:
        limit = "n_support - 1 (exclude_self)" if own_rows is not None else "n_support"
        raise ValueError(f"k={k} is larger than {limit} = {available}")
    if chunk_size is not None:
        chunk_size = check_positive_int(chunk_size, "chunk_size")
    dev = check_device(device)
    if dev.type == "mps":
        raise ValueError("device='mps' is not supported: the exact k-NN search needs float64 on its device")
    check_precision(precision)
    with _ieee_float32():
        return _Search(q, s, k, own_rows, dev, chunk_size, precision).run(exact_distances)


def _own_rows(exclude_self: Any, n_query: int, n_support: int) -> np.ndarray | None:
    """Per query row, the support row that is the query itself (-1: none), or None when nothing is excluded."""
    if exclude_self is False or exclude_self is None:
        return None
    if exclude_self is True:
        if n_query != n_support:
            raise ValueError(
                f"exclude_self=True needs the queries to be the support set, got {n_query} and {n_support} rows"
            )
        return np.arange(n_query, dtype=np.int64)
    own = np.asarray(exclude_self)
    if own.shape != (n_query,) or not np.issubdtype(own.dtype, np.integer):
        raise ValueError(f"exclude_self must be True, False or one support row (or -1) per query, got {own!r:.80}")
    if ((own < -1) | (own >= n_support)).any():
        raise ValueError(f"exclude_self: support rows must lie in [0, {n_support}) (or be -1 for none)")
    return own.astype(np.int64)


@contextmanager
def _ieee_float32() -> Iterator[None]:
    """IEEE float32 matrix products inside (no TF32 on CUDA, no bf16 in oneDNN) and float32 sums in bfloat16
    products (no reduced-precision split-K reductions on CUDA), the settings restored after.

    Uses the ``fp32_precision`` settings where torch has them (mixing them with the legacy ``allow_tf32`` flags
    makes torch raise), else ``allow_tf32`` of cuBLAS and cuDNN and the float32 matmul precision."""
    import torch

    saved: list[tuple[Any, str, Any]] = []
    backends = torch.backends
    try:
        if hasattr(backends.cuda.matmul, "fp32_precision"):
            mkldnn = getattr(getattr(backends, "mkldnn", None), "matmul", None)
            for obj in (backends.cuda.matmul, backends.cudnn, mkldnn):
                if obj is not None and hasattr(obj, "fp32_precision"):
                    saved.append((obj, "fp32_precision", obj.fp32_precision))
                    obj.fp32_precision = "ieee"
        else:  # older torch
            precision = torch.get_float32_matmul_precision()
            saved.append((None, "float32_matmul_precision", precision))
            torch.set_float32_matmul_precision("highest")
            for obj in (backends.cuda.matmul, backends.cudnn):
                saved.append((obj, "allow_tf32", obj.allow_tf32))
                obj.allow_tf32 = False
        for flag in ("allow_bf16_reduced_precision_reduction", "allow_fp16_reduced_precision_reduction"):
            if isinstance(getattr(backends.cuda.matmul, flag, None), bool):  # split-K sums kept in float32
                saved.append((backends.cuda.matmul, flag, getattr(backends.cuda.matmul, flag)))
                setattr(backends.cuda.matmul, flag, False)
        yield
    finally:
        for obj, name, value in reversed(saved):
            if obj is None:
                torch.set_float32_matmul_precision(value)
            else:
                setattr(obj, name, value)


class _Search:
    """One call of :func:`nearest_neighbours`: the centred support set (float32, or float64 for ``"fp64"``; with
    a bfloat16 copy for ``"bf16"``), its norms, the bounds' constants, the float64 re-measurements, and the
    passes over the queries."""

    def __init__(
        self,
        q: np.ndarray,
        s: np.ndarray,
        k: int,
        own_rows: np.ndarray | None,
        dev: Any,
        chunk_size: int | None,
        precision: str = "fp32",
    ):
        import torch

        self.q, self.s, self.k, self.own_rows, self.dev = q, s, k, own_rows, dev
        n_s, d = s.shape
        self.available = n_s - (1 if own_rows is not None else 0)
        host = _on_host(dev)
        block_values = _BLOCK_DISTANCES if host else _DEVICE_BLOCK_DISTANCES
        if chunk_size is None:
            chunk_size = max(_CHUNK_ROWS if host else _DEVICE_CHUNK_ROWS, block_values // n_s)
        self.chunk_size = chunk_size
        self.rows = min(chunk_size, len(q))
        # support columns per product: the whole set when rows x n_s fits the block, else equal column blocks
        n_blocks = -(-n_s // max(1, block_values // self.rows))
        self.width = -(-n_s // n_blocks)
        self.exact: _HostExact | _DeviceExact = _HostExact(q, s) if host else _DeviceExact(q, s, dev)
        source = s if host else self.exact.s_dev
        self.dtype = torch.float64 if precision == "fp64" else torch.float32
        unit = _UNIT_ROUNDOFF64 if precision == "fp64" else _UNIT_ROUNDOFF32
        sample_mean_sq, spread = _sample_moments(source, dev)  # |mean|^2, mean squared distance to it (estimates)
        if sample_mean_sq > _CENTRE_GAIN * spread or not np.isfinite(spread):
            self.centre32 = _mean(source, dev).float()
        else:  # centring would shrink the norms by under 5%: the support set as it is
            self.centre32 = torch.zeros(d, dtype=torch.float32, device=dev)
        self.source = source
        # the bound's constant; from 2^22 features on, the slack terms no longer hold: every row is recomputed
        self.coef = (d + 8) * unit / (1 - (d + 8) * unit) if d < 2**22 else np.inf
        self.auto = precision == "auto"
        self.remeasured = 0  # rows whose set needed float64 re-measurements of near-tie candidates
        self.first_failed = 0  # rows the first candidate search of their chunk did not prove
        self.s16 = self.s_float = None
        if precision == "bf16" or (self.auto and _bf16_pays(dev, d, len(q))):
            self._prepare_bf16(forced=precision == "bf16")  # the float32 copy only if a row needs it
        if self.s16 is None:
            self._prepare_float()
        self.nu_sorted = np.sort(self.nu)
        self.eta = (d + 2) * 2.0**-120 * (1 + float(self.nu.max()))  # per row: times (1 + |x|)
        self.precision = "bf16" if self.s16 is not None else ("fp64" if precision == "fp64" else "fp32")

    def _prepare_float(self) -> None:
        """The centred support set in the product's precision (float32, or float64 for ``"fp64"``; without a copy
        where it is float32 and not centred), its squared norms and the product buffer."""
        import torch

        # the norms of the bfloat16 pass, where it ran, are those of the same float32 rows
        self.s_float, norms = _float_support(self.source, self.centre32, self.dev, self.dtype, self.s16 is None)
        if self.s16 is None:
            self.nu = norms  # float64 norms of the centred rows
        self.s_sq = torch.from_numpy(self.nu * self.nu).to(self.dev, self.dtype)  # |y|^2 rounded to the precision
        self.block = torch.empty(self.rows * self.width, dtype=self.dtype, device=self.dev)  # one, reused

    def _prepare_bf16(self, forced: bool) -> None:
        """The bfloat16 copy of the support set augmented for one product per block (``_augmented_bf16``), made
        block by block from the centred float32 rows (no full float32 copy), its buffer and the bound's constants
        (module docstring), if this device sums bfloat16 products in float32."""
        import torch

        self.depth16 = _bf16_depth(self.s.shape[1])
        if not _bf16_sums_in_float32(self.dev, self.rows, self.width, self.depth16):
            if forced:
                raise ValueError(
                    f"precision='bf16': bfloat16 products on {self.dev} do not keep their sums in float32, so no "
                    "bound holds for them; use precision='fp32'"
                )
            return
        self.c_sum, self.c_value = _bf16_constants(self.dev, self.depth16)
        self.s16, self.nu, self.r16 = _bf16_support(self.source, self.centre32, self.dev, self.depth16)
        self.rho16 = _largest_share(self.r16, self.nu)
        self.block16 = torch.empty(self.rows * self.width, dtype=torch.bfloat16, device=self.dev)

    def run(self, exact_distances: bool) -> Neighbours:
        n_q, k = len(self.q), self.k
        indices = np.empty((n_q, k), dtype=np.int64)
        sq_dist = np.empty((n_q, k), dtype=np.float64)
        bounds = np.zeros(n_q, dtype=np.float64)
        n_cand = min(k + EXTRA_CANDIDATES, self.available)
        n_cand16 = min(k + BF16_EXTRA_CANDIDATES, self.available)
        pending, recheck = [], []
        starts = list(range(0, n_q, self.chunk_size))
        trial = self.auto and self.s16 is not None and self.rows > _BF16_TRIAL_ROWS
        if trial and _bf16_sums_in_float32(self.dev, _BF16_TRIAL_ROWS, self.width, self.depth16):
            starts = [0, *range(_BF16_TRIAL_ROWS, n_q, self.chunk_size)]  # a small first chunk decides
        for i, start in enumerate(starts):
            rows = np.arange(start, starts[i + 1] if i + 1 < len(starts) else n_q)
            if self.s16 is None:
                pending.append(self._pass(rows, n_cand, indices, sq_dist, bounds))
                self.first_failed += len(pending[-1])
                continue
            recheck.append(self._pass(rows, n_cand16, indices, sq_dist, bounds, bf16=True))
            self.first_failed += len(recheck[-1])
            if self.auto and start == 0 and len(recheck[0]) > (1 - _BF16_MIN_CERTIFIED) * len(rows):
                self.s16 = self.block16 = None  # too few rows proven in bfloat16: the rest in float32
                self.precision = "fp32"
                self._prepare_float()
        rechecked = np.concatenate(recheck) if recheck else np.empty(0, dtype=np.int64)
        widened = len(rechecked) if self.s16 is not None else 0
        n_wide = min(self.available, WIDENING[0] * n_cand16) if WIDENING else n_cand16  # a wider bfloat16 search
        step = max(1, min(self.rows, self.rows * n_cand16 // n_wide))
        if (
            len(rechecked)
            and self.s16 is not None
            and n_cand16 < n_wide
            and _bf16_sums_in_float32(self.dev, step, self.width, self.depth16)  # this block shape too
        ):
            batches = [rechecked[i : i + step] for i in range(0, len(rechecked), step)]
            rechecked = np.concatenate([self._pass(b, n_wide, indices, sq_dist, bounds, bf16=True) for b in batches])
        if len(rechecked) and self.s_float is None:
            self.s16 = self.block16 = None
            self._prepare_float()
        for i in range(0, len(rechecked), self.rows):
            pending.append(self._pass(rechecked[i : i + self.rows], n_cand, indices, sq_dist, bounds))
        self.s16 = self.block16 = None
        pending_rows = np.concatenate(pending) if pending else np.empty(0, dtype=np.int64)
        widened += len(pending_rows)
        for factor in WIDENING:
            if not pending_rows.size or n_cand >= self.available:
                break
            n_cand = min(self.available, factor * (k + EXTRA_CANDIDATES))
            step = max(1, min(self.rows, self.rows * 8 * (k + EXTRA_CANDIDATES) // n_cand))  # bounded temporaries
            batches = [pending_rows[i : i + step] for i in range(0, len(pending_rows), step)]
            pending_rows = np.concatenate([self._pass(b, n_cand, indices, sq_dist, bounds) for b in batches])
        for row in pending_rows:
            own = None if self.own_rows is None or self.own_rows[row] < 0 else int(self.own_rows[row])
            indices[row], sq_dist[row] = self.exact.full_row(int(row), k, own)
            bounds[row] = 0.0
        if exact_distances:
            for start in range(0, n_q, self.chunk_size):
                stop = min(n_q, start + self.chunk_size)
                exact = self.exact.rows(start, stop, indices[start:stop])
                order = np.lexsort((indices[start:stop], exact), axis=-1)  # by distance, then index
                indices[start:stop] = np.take_along_axis(indices[start:stop], order, 1)
                sq_dist[start:stop] = np.take_along_axis(exact, order, 1)
        self.block = None
        return Neighbours(
            indices=indices,
            sq_distances=sq_dist,
            fallback_rows=len(pending_rows),
            error_bounds=None if exact_distances else bounds,
            widened_rows=widened,
            precision=self.precision,
            rechecked_rows=len(rechecked),
            remeasured_rows=self.remeasured,
            first_rows=n_q - self.first_failed,
        )

    def _pass(
        self,
        rows: np.ndarray,
        n_cand: int,
        indices: np.ndarray,
        sq_dist: np.ndarray,
        bounds: np.ndarray,
        bf16: bool = False,
    ) -> np.ndarray:
        """Search query ``rows`` for ``n_cand`` candidates each (in bfloat16 with ``bf16``, else in the support
        copy's precision) and settle the proven rows into the outputs; returns the rows not proven."""
        import torch

        contiguous = rows[-1] - rows[0] == len(rows) - 1
        part = self.q[rows[0] : rows[-1] + 1] if contiguous else self.q[rows]
        q_float, mu = _centred(part, self.centre32, self.dev, torch.float32 if bf16 else self.dtype)
        own = None if self.own_rows is None else torch.from_numpy(self.own_rows[rows]).to(self.dev)
        eta = self.eta * (1 + mu.cpu().numpy())
        if bf16:
            q16, r_q = _bf16_queries(q_float, mu, self.depth16)
            top_vals, top_idx = _smallest_bf16(q16, self.s16, n_cand, self.width, self.block16, own)
            mu, r_q = mu.cpu().numpy(), r_q.cpu().numpy()
            vals = top_vals.double().cpu().numpy()  # |x|^2 is in the product
            cand = top_idx.cpu().numpy()
            err = _bf16_errors(vals, mu, r_q, self.nu[cand], self.r16[cand], eta, self.c_sum, self.c_value)
            outsiders = (self.c_sum, 1 - self.c_value, _bf16_slope(mu, r_q, self.rho16))
        else:
            mu = mu.cpu().numpy()
            top_vals, top_idx = _smallest32(q_float, self.s_float, self.s_sq, n_cand, self.width, self.block, own)
            vals = top_vals.double().cpu().numpy() + (mu * mu)[:, None]
            cand = top_idx.cpu().numpy()
            err = self.coef * (mu[:, None] + self.nu[cand]) ** 2 + eta[:, None]
            outsiders = (self.coef, 1.0)
        # every support point is a candidate (its own row aside) when n_cand reaches what the row can have
        own = 0 if self.own_rows is None else (self.own_rows[rows] >= 0)
        all_in = n_cand >= len(self.s) - own
        chosen, proven = self._settle(rows, vals, cand, err, mu, eta, np.broadcast_to(all_in, rows.shape), outsiders)
        done = rows[proven]
        indices[done] = np.take_along_axis(cand[proven], chosen, 1)
        sq_dist[done] = np.take_along_axis(vals[proven], chosen, 1)
        bounds[done] = np.take_along_axis(err[proven], chosen, 1).max(axis=1)
        return rows[~proven]

    def _settle(
        self,
        rows: np.ndarray,
        vals: np.ndarray,
        cand: np.ndarray,
        err: np.ndarray,
        mu: np.ndarray,
        eta: np.ndarray,
        all_in: np.ndarray,
        outsiders: tuple[float, float],
    ) -> tuple[np.ndarray, np.ndarray]:
        """The exact k nearest from each row's float32 candidates (``vals`` ascending, ``cand`` their indices,
        ``err`` their error bounds; see the module docstring): the positions (into the candidates, ascending)
        of the neighbours of the proven rows, and the proven mask (``all_in``, per row: the candidates are the
        whole support set, so no outsider can exist; ``outsiders``: the constants of :meth:`_no_outsider`)."""
        k, m = self.k, vals.shape[1]
        lower, upper = vals - err, vals + err
        kth_upper = np.partition(upper, k - 1, axis=1)[:, k - 1]
        next_lower = np.partition(lower, k, axis=1)[:, k] if m > k else np.full(len(vals), np.inf)
        sure = upper < next_lower[:, None]
        live = lower <= kth_upper[:, None]  # not out
        # no overflow anywhere in the row's float32 arithmetic when (|x| + max |y|)^2 < 2^120
        finite = np.isfinite(vals).all(axis=1) & np.isfinite(err).all(axis=1) & (mu + self.nu_sorted[-1] < 2.0**60)
        proven = finite & (live.sum(axis=1) >= k)
        if not all_in.all():
            proven &= all_in | self._no_outsider(mu, vals[:, -1], kth_upper, eta, *outsiders)
        keep = live[proven]
        banded = np.flatnonzero(keep.sum(axis=1) > k)  # most rows: exactly k not out, the neighbours
        self.remeasured += banded.size
        if banded.size:
            band = keep[banded] & ~sure[proven][banded]
            band_rows, band_pos = np.nonzero(band)  # by row, then position
            band_cand = cand[proven][banded[band_rows], band_pos]
            exact = self.exact.pairs(rows[proven][banded[band_rows]], band_cand)
            order = np.lexsort((band_cand, exact, band_rows))  # per row by (distance, index)
            first = np.searchsorted(band_rows, np.arange(len(banded)))
            rank = np.empty(len(order), dtype=np.int64)
            rank[order] = np.arange(len(order)) - first[band_rows[order]]
            in_band = sure[proven][banded]
            need = k - in_band.sum(axis=1)
            pick = rank < need[band_rows]
            in_band[band_rows[pick], band_pos[pick]] = True  # exactly k per row
            keep[banded] = in_band
        chosen = np.nonzero(keep)[1].reshape(-1, k)  # positions in float32 order
        return chosen, proven

    def _no_outsider(
        self,
        mu: np.ndarray,
        v_last: np.ndarray,
        kth_upper: np.ndarray,
        eta: np.ndarray,
        coef: float,
        last_scale: float,
        slope: np.ndarray | float = 0.0,
    ) -> np.ndarray:
        """:func:`_no_outsider` against this call's support norms."""
        return _no_outsider(self.nu_sorted, mu, v_last, kth_upper, eta, coef, last_scale, slope)


def _no_outsider(
    nu_sorted: np.ndarray,
    mu: np.ndarray,
    v_last: np.ndarray,
    kth_upper: np.ndarray,
    eta: np.ndarray,
    coef: float,
    last_scale: float,
    slope: np.ndarray | float = 0.0,
) -> np.ndarray:
    """Per row: no support point outside the candidates can have a distance <= ``kth_upper``, from the computed
    values (every outsider's is >= ``v_last``; its error, for a support norm ``b``, at most ``slope b + coef (|x|
    + b)^2 + eta`` plus ``(1 - last_scale)`` times the value) and the triangle inequality (module docstring);
    ``nu_sorted``: the norms of every support point that may be an outsider, ascending."""
    gap = last_scale * v_last - kth_upper - eta
    # the norm t = |x| + b at which the error reaches the gap: c t^2 + slope t = gap + slope |x|
    room = np.maximum(gap, 0.0) + slope * mu
    with np.errstate(invalid="ignore"):
        t = 2 * room / (slope + np.sqrt(slope * slope + 4 * coef * room))  # the stable root
        reach = t * (1 - _SAFETY) - mu * (1 + _SAFETY)
        # norms below b_a: ruled out by the float32 value; outside [beta_lo, beta_hi]: by the norms
        b_a = np.where(gap > 0, reach, -np.inf)
        root = np.sqrt(np.maximum(kth_upper, 0.0) / (1 - _FLOAT64_SLACK)) * (1 + _SAFETY)
        beta_hi = (root + mu * (1 + _NORM_SLACK)) / (1 - _NORM_SLACK) * (1 + _SAFETY)
        beta_lo = (mu * (1 - _NORM_SLACK) - root) / (1 + _NORM_SLACK) - _SAFETY * (mu + root)
        lo = np.maximum(b_a, beta_lo)
    inside = np.searchsorted(nu_sorted, beta_hi, side="right") - np.searchsorted(nu_sorted, lo, side="left")
    return (inside <= 0) & np.isfinite(beta_hi) & np.isfinite(lo)


def _bf16_depth(d: int) -> int:
    """The width of the augmented bfloat16 rows of ``d`` features (``d + 6``, padded to ``_BF16_PAD``)."""
    return -(-(d + 6) // _BF16_PAD) * _BF16_PAD


def _bf16_constants(dev: Any, depth16: int) -> tuple[float, float]:
    """The bfloat16 bound's constants (module docstring): ``c_sum``, times ``(|x| + |y|)^2`` (the float32 sums,
    the centring, the norms in three bfloat16 parts, float64 slack), and ``c_value``, times ``|V|`` (the
    product's output rounded to bfloat16)."""
    acc = _ACCUMULATION_UNIT.get(dev.type, 2.0**-22) * depth16
    u = _UNIT_ROUNDOFF_BF16
    c_sum = acc / (1 - acc) * (1 + 2.0**-6) + 4 * _UNIT_ROUNDOFF32 + 2.0**-22
    return c_sum, u / (1 - u) * (1 + 2.0**-20)


def _bf16_support(source: Any, centre32: Any, dev: Any, depth16: int) -> tuple[Any, np.ndarray, np.ndarray]:
    """The augmented bfloat16 copy of the support rows ``source`` (``_augmented_bf16``), made block by block from
    the centred float32 rows (no full float32 copy), with the float64 norms of the centred float32 rows and the
    norms of their bfloat16 residuals ``|y - bf16(y)|`` (numpy)."""
    import torch

    n_s, d = source.shape
    s16 = torch.empty((n_s, depth16), dtype=torch.bfloat16, device=dev)
    norms = torch.empty(n_s, dtype=torch.float64, device=dev)
    residuals = torch.empty(n_s, dtype=torch.float64, device=dev)
    step = max(1, 4 * _CHECK_VALUES // d)
    for i in range(0, n_s, step):
        part = source[i : i + step]
        if isinstance(part, np.ndarray) and part.dtype == np.float32 and part.flags.c_contiguous:
            part = _read_only_tensor(part).to(dev)
        if isinstance(part, torch.Tensor) and part.dtype == torch.float32:
            part = part - centre32  # the exact difference, rounded once (as in _centred)
            _norms64(part, norms[i : i + step])
        else:
            part, norms[i : i + step] = _centred(part, centre32, dev)
        _augmented_bf16(part, norms[i : i + step], support=True, out=s16[i : i + step],
                        residuals=residuals[i : i + step])  # fmt: skip
    return s16, norms.cpu().numpy(), residuals.cpu().numpy()


def _largest_share(residuals: np.ndarray, norms: np.ndarray) -> float:
    """The largest ``|y - bf16(y)| / |y|`` of the support rows (0 for rows of norm 0)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return float(np.max(np.where(norms > 0, residuals / norms, 0.0)))


def _float_support(source: Any, centre32: Any, dev: Any, dtype: Any, norms: bool = True) -> tuple[Any, Any]:
    """The centred support rows in the product's precision ``dtype`` (float32, or float64 for ``"fp64"``; a
    float32 array on the host that is not centred is used as it is, without a copy) and the float64 norms of
    the centred rows (numpy; None when not asked for and not computed along the way)."""
    import torch

    if not centre32.any() and _on_host(dev) and source.dtype == np.float32 and source.flags.c_contiguous:
        if dtype == torch.float32:
            return _read_only_tensor(source), (_host_norms(source) if norms else None)
    rows, nu = _centred(source, centre32, dev, dtype)
    return rows, nu.cpu().numpy()


def _bf16_queries(q_float: Any, mu: Any, depth16: int) -> tuple[Any, Any]:
    """The augmented bfloat16 rows of centred float32 query rows ``q_float`` (norms ``mu``; overwritten) and the
    norms of their residuals (a float64 tensor)."""
    import torch

    q16 = torch.empty((len(q_float), depth16), dtype=torch.bfloat16, device=q_float.device)
    r_q = torch.empty(len(q_float), dtype=torch.float64, device=q_float.device)
    _augmented_bf16(q_float, mu, support=False, out=q16, residuals=r_q)
    return q16, r_q


def _bf16_errors(
    vals: np.ndarray, mu: np.ndarray, r_q: np.ndarray, nu: np.ndarray, r16: np.ndarray, eta: np.ndarray,
    c_sum: float, c_value: float,
) -> np.ndarray:  # fmt: skip
    """The bound on ``|V - D|`` of bfloat16 values ``vals`` (rows: queries of norms ``mu`` and residual norms
    ``r_q``; columns: candidates of norms ``nu`` and residual norms ``r16``; module docstring)."""
    # 2 |x.y - bf16(x).bf16(y)| <= 2 (|bf16(x)| |y - bf16(y)| + |x - bf16(x)| |y|) (Cauchy-Schwarz)
    pair = 2 * ((mu + r_q)[:, None] * r16 + r_q[:, None] * nu) * (1 + 2.0**-20)
    return pair + c_sum * (mu[:, None] + nu) ** 2 + c_value * np.abs(vals) + eta[:, None]


def _bf16_slope(mu: np.ndarray, r_q: np.ndarray, rho16: float) -> np.ndarray:
    """Per query row: the pair term of the bfloat16 bound is at most ``slope |y|`` for every support row whose
    residual share is at most ``rho16``."""
    return 2 * ((mu + r_q) * rho16 + r_q) * (1 + 2.0**-20)


def _read_only_tensor(array: np.ndarray) -> Any:
    """``torch.from_numpy`` of an array the search only reads (a read-only memory map, say), without torch's
    warning about non-writable arrays."""
    import warnings

    import torch

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        return torch.from_numpy(array)


def _on_host(dev: Any) -> bool:
    """Whether the search on ``dev`` works on the caller's numpy arrays (the CPU) rather than device copies."""
    return dev.type == "cpu"


def _blocks(x: Any, dev: Any) -> Iterator[tuple[int, Any]]:
    """(start, rows as a tensor on ``dev``) over blocks of about 2**20 values of a numpy array or a tensor on
    ``dev``; numpy rows that are not float16, float32 or float64 are converted to float64."""
    import torch

    step = max(1, _CHECK_VALUES // x.shape[1])
    for i in range(0, len(x), step):
        part = x[i : i + step]
        if isinstance(part, np.ndarray):
            part = torch.from_numpy(np.ascontiguousarray(part, dtype=_float_kind(part.dtype))).to(dev)
        yield i, part


def _float_kind(dtype: np.dtype) -> np.dtype:
    """The dtype itself for float16, float32 and float64; float64 for others (integers)."""
    return np.dtype(dtype) if dtype in (np.float16, np.float32, np.float64) else np.dtype(np.float64)


# On the host the passes below use numpy in cache-sized blocks: single-threaded but steady, where torch's
# parallel elementwise operations on small blocks stall whenever another process holds a core.


def _mean(x: Any, dev: Any) -> Any:
    """Column means of a numpy array (on the host) or a tensor on ``dev``, accumulated in float64 block by block,
    as a float64 tensor on ``dev``."""
    import torch

    if isinstance(x, np.ndarray):
        total = np.zeros(x.shape[1], dtype=np.float64)
        step = max(1, _CACHE_VALUES // x.shape[1])
        for i in range(0, len(x), step):
            total += x[i : i + step].sum(axis=0, dtype=np.float64)
        return torch.from_numpy(total / len(x)).to(dev)
    total = torch.zeros(x.shape[1], dtype=torch.float64, device=dev)
    for _, part in _blocks(x, dev):
        total += part.sum(dim=0, dtype=torch.float64)
    return total / len(x)


def _sample_moments(x: Any, dev: Any, sample: int = 1024) -> tuple[float, float]:
    """The squared norm of the mean of the rows of ``x`` and their mean squared distance to it, estimated in
    float64 from at most ``sample`` evenly spaced rows (they only decide whether to centre)."""
    import torch

    rows = np.unique(np.linspace(0, len(x) - 1, min(sample, len(x))).astype(np.int64))
    part = x[rows] if isinstance(x, np.ndarray) else x[torch.from_numpy(rows).to(dev)].cpu().numpy()
    values = part.astype(np.float64)
    mean = values.mean(axis=0)
    return float(mean @ mean), float(((values - mean) ** 2).sum(axis=1).mean())


def _host_norms(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Row norms of a float32 array, computed in float64, in cache-sized blocks."""
    out = np.empty(len(x), dtype=np.float64) if out is None else out
    step = max(1, _CACHE_VALUES // x.shape[1])
    tmp = np.empty((min(step, len(x)), x.shape[1]), dtype=np.float64)  # one, reused
    for i in range(0, len(x), step):
        t = tmp[: len(x[i : i + step])]
        t[...] = x[i : i + step]
        out[i : i + step] = np.sqrt(np.einsum("ij,ij->i", t, t))
    return out


def _centred(x: Any, centre32: Any, dev: Any, dtype: Any = None) -> tuple[Any, Any]:
    """``fl(x - centre32)`` as a tensor on ``dev`` in ``dtype`` (default float32) and its rows' norms (computed in
    float64), block by block (one copy; no float64 copy of ``x`` unless ``dtype`` is float64). ``x`` is a numpy
    array or a tensor on ``dev``."""
    import torch

    dtype = torch.float32 if dtype is None else dtype
    out = torch.empty(x.shape, dtype=dtype, device=dev)
    norms = torch.empty(len(x), dtype=torch.float64, device=dev)
    if isinstance(x, np.ndarray) and _on_host(dev):
        out_np, norms_np, c32 = out.numpy(), norms.numpy(), centre32.numpy()
        c64 = c32.astype(np.float64)
        step = max(1, _CACHE_VALUES // x.shape[1])
        tmp = np.empty((min(step, len(x)), x.shape[1]), dtype=np.float64)  # one, reused
        for i in range(0, len(x), step):
            part, rows, t = x[i : i + step], out_np[i : i + step], tmp[: len(x[i : i + step])]
            if part.dtype in (np.float32, np.float16) and rows.dtype == np.float32:
                np.subtract(part, c32, out=rows)  # the exact difference, rounded once
                t[...] = rows
            else:  # float64 or integers, or a float64 copy: the difference in float64, then rounded
                np.subtract(part, c64, out=t)
                rows[...] = t
                t[...] = rows
            norms_np[i : i + step] = np.sqrt(np.einsum("ij,ij->i", t, t))
        return out, norms
    centre64 = centre32.double()
    for i, part in _blocks(x, dev):
        rows = out[i : i + len(part)]
        if part.dtype == torch.float64 or dtype == torch.float64:
            rows.copy_(part.double() - centre64)  # in float64, then rounded
        else:
            torch.sub(part.float(), centre32, out=rows)  # the exact difference, rounded once
        torch.linalg.vector_norm(rows, 2, dim=1, dtype=torch.float64, out=norms[i : i + len(part)])
    return out, norms


def _norms64(x: Any, out: Any) -> None:
    """Row norms of a float32 tensor computed in float64 into ``out``, in blocks of 2^18 values (torch's float64
    reductions of float32 input run several times faster on blocks that stay in cache)."""
    import torch

    step = max(1, 2**18 // x.shape[1])
    for i in range(0, len(x), step):
        torch.linalg.vector_norm(x[i : i + step], 2, dim=1, dtype=torch.float64, out=out[i : i + step])


def _augmented_bf16(x: Any, norms: Any, support: bool, out: Any, residuals: Any) -> None:
    """Rows of float32 ``x`` (norms ``norms``, float64) in bfloat16 into ``out`` (bfloat16, at least ``d + 6``
    columns), laid out so that one product of a query block with a support block gives ``|x|^2 + |y|^2 -
    2 x.y`` directly: a support row is ``[y, n1, n2, n3, 1, 1, 1, 0...]``, a query row ``[-2 x, 1, 1, 1, n1, n2,
    n3, 0...]``, where ``n1 + n2 + n3`` is the squared norm in three bfloat16 parts (a residual under 2^-23 of
    it). ``-2`` scales exactly, so the product's error is that of the rounded inputs, the float32 sums and the
    rounded output (module docstring). ``residuals`` receives the norms ``|x - bf16(x)|`` (float64). ``x`` may
    be overwritten."""
    import torch

    n, d = x.shape
    rounded = out[:, :d]
    rounded.copy_(x)  # rounded to nearest (even)
    # the residual is exact in float32; its norm, summed in float32, is raised by its worst-case error
    # gamma_{d+2} (the sum of d squares and the square root) and by sqrt(d) 2^-74 for squares that underflow
    norm32 = torch.linalg.vector_norm(x.sub_(rounded.float()), 2, dim=1)
    gamma = (d + 2) * _UNIT_ROUNDOFF32 / (1 - (d + 2) * _UNIT_ROUNDOFF32)
    torch.add(norm32.double() * (1 + gamma), d**0.5 * 2.0**-74, out=residuals)
    if not support:
        rounded.mul_(-2.0)
    out[:, d + 6 :] = 0.0
    rest = norms * norms
    parts = []
    for _ in range(3):
        piece = rest.to(torch.bfloat16)
        parts.append(piece)
        rest = rest - piece.double()  # exact in float64
    pieces, ones = torch.stack(parts, 1), torch.ones((n, 3), dtype=torch.bfloat16, device=x.device)
    out[:, d : d + 3], out[:, d + 3 : d + 6] = (pieces, ones) if support else (ones, pieces)


def _smallest_bf16(q16: Any, s16: Any, n_cand: int, width: int, block: Any, own: Any | None) -> tuple[Any, Any]:
    """The ``n_cand`` smallest bfloat16 values of ``|x|^2 + |y|^2 - 2 x.y`` per query row (ascending) and their
    support indices, from products of the augmented rows (``_augmented_bf16``) of at most ``width`` support
    columns written into ``block``; ``own`` as in :func:`_smallest32`."""
    import torch

    def product(lo: int, hi: int, out: Any) -> Any:
        return torch.mm(q16, s16[lo:hi].T, out=out)

    return _smallest_over_blocks(product, len(q16), len(s16), n_cand, width, block, own)


@lru_cache(maxsize=1)
def _cpu_flags() -> frozenset[str]:
    """The CPU's feature flags (Linux ``/proc/cpuinfo``; empty elsewhere)."""
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def _bf16_pays(dev: Any, n_features: int, n_queries: int) -> bool:
    """``precision="auto"``: whether a bfloat16 search pays here: a device that multiplies bfloat16 fast (CUDA
    from compute capability 8, or a CPU with AVX512-BF16 or AMX), enough features and enough queries."""
    import torch

    if n_features < _BF16_MIN_FEATURES or n_queries < _BF16_MIN_QUERIES:
        return False
    if dev.type == "cuda":
        return torch.cuda.get_device_capability(dev)[0] >= 8
    return dev.type == "cpu" and bool({"avx512_bf16", "amx_bf16"} & _cpu_flags())


_SUMS_CHECKED: dict[tuple[str, int, int, int], bool] = {}


def _bf16_sums_in_float32(dev: Any, rows: int, width: int, depth: int) -> bool:
    """Whether a bfloat16 product of these shapes on ``dev`` keeps its sums in float32 until the output is
    rounded (the bound assumes it): one product of the same shapes whose last entry sums ``B``, ``m`` ones and
    ``-B`` (``m`` a power of two, ``B = 2^9 m``) comes out exactly ``m`` only if no partial sum holding ``B``
    was rounded to bfloat16 (8 bits: its spacing near ``B`` is ``4 m``). Cached per device and shapes."""
    import torch

    key = (str(dev), rows, width, depth)
    if key not in _SUMS_CHECKED:
        ones = 2 ** int(np.log2(depth - 2))
        big = 2.0 ** (int(np.log2(ones)) + 9)
        a = torch.zeros((rows, depth), dtype=torch.bfloat16, device=dev)
        b = torch.zeros((width, depth), dtype=torch.bfloat16, device=dev)
        a[-1] = 1.0
        b[-1, 0], b[-1, 1 : 1 + ones], b[-1, depth - 1] = big, 1.0, -big
        out = torch.mm(a, b.T)
        _SUMS_CHECKED[key] = out[-1, -1].item() == ones and not out[:-1].any().item() and not out[:, :-1].any().item()
    return _SUMS_CHECKED[key]


def _smallest32(
    q32: Any, s32: Any, s_norm2: Any, n_cand: int, width: int, block: Any, own: Any | None
) -> tuple[Any, Any]:
    """The ``n_cand`` smallest float32 (float64, for float64 inputs) values of |s|^2 - 2 q.s per query row
    (ascending) and their support indices, from products of at most ``width`` support columns written into
    ``block``; query row i is support row ``own[i]`` when ``own`` (a tensor) is given (that entry is skipped)."""
    import torch

    def product(lo: int, hi: int, out: Any) -> Any:
        # |s|^2 - 2 q.s in one fused product; |q|^2 is constant along a row, so it is added after the search
        return torch.addmm(s_norm2[None, lo:hi], q32, s32[lo:hi].T, beta=1.0, alpha=-2.0, out=out)

    return _smallest_over_blocks(product, len(q32), len(s32), n_cand, width, block, own)


def _smallest_over_blocks(
    product: Any, m: int, n_s: int, n_cand: int, width: int, block: Any, own: Any | None
) -> tuple[Any, Any]:
    """The ``n_cand`` smallest values per row (ascending) and their support indices over support-column blocks
    of at most ``width``: ``product(lo, hi, out)`` writes the m x (hi - lo) values of columns lo:hi into ``out``
    (a view of ``block``); query row i's own support row ``own[i]`` (a tensor, when given) is skipped."""
    import torch

    vals, idx = [], []
    for lo in range(0, n_s, width):
        hi = min(n_s, lo + width)
        values = product(lo, hi, block[: m * (hi - lo)].view(m, hi - lo))
        if own is not None:
            inside = torch.nonzero((own >= lo) & (own < hi)).squeeze(1)
            values[inside, own[inside] - lo] = float("inf")  # each query's own row
        v, i = _smallest_unsorted(values, min(n_cand, hi - lo))
        vals.append(v)
        idx.append(i + lo)
    # the n_cand smallest of a row are among the n_cand smallest of each column block
    top_vals, pos = torch.topk(torch.cat(vals, 1), n_cand, dim=1, largest=False, sorted=True)
    return top_vals, torch.cat(idx, 1).gather(1, pos)


def _smallest_unsorted(x: Any, n: int) -> tuple[Any, Any]:
    """The ``n`` smallest values of each row of ``x`` (in no order) and their columns. A row's n smallest values
    lie in the n column groups with the smallest minima (ties: any of them), so wide rows are searched through
    the minima of strided groups of ``_GROUP`` columns, chosen the same way (a pass of elementwise minima and a
    search over 1/8 of the columns instead of ``topk`` over all of them)."""
    import torch

    m, w = x.shape
    if w < 4 * n * _GROUP:
        return torch.topk(x, n, dim=1, largest=False, sorted=False)
    n_groups = w // _GROUP
    # group j holds the columns j, j + n_groups, j + 2 n_groups, ...: its minimum is an elementwise minimum
    minima = x[:, : n_groups * _GROUP].unflatten(1, (_GROUP, n_groups)).amin(dim=1)
    _, groups = _smallest_unsorted(minima, n)
    cols = (groups[:, :, None] + n_groups * torch.arange(_GROUP, device=x.device)).flatten(1)
    if w > n_groups * _GROUP:  # the last columns, in no group, stay candidates
        cols = torch.cat([cols, torch.arange(n_groups * _GROUP, w, device=x.device).expand(m, -1)], 1)
    vals, pos = torch.topk(x.gather(1, cols), n, dim=1, largest=False, sorted=False)
    return vals, cols.gather(1, pos)


class _HostExact:
    """Float64 re-measurements with numpy on the caller's arrays: bit for bit a numpy brute force."""

    def __init__(self, q: np.ndarray, s: np.ndarray):
        self.q, self.s = q, s

    def pairs(self, q_index: np.ndarray, s_index: np.ndarray) -> np.ndarray:
        return _pair_sq_dist(self.q, q_index, self.s, s_index)

    def rows(self, start: int, stop: int, cand: np.ndarray) -> np.ndarray:
        return direct_sq_dist(self.q[start:stop], self.s, cand)

    def full_row(self, row: int, k: int, own: int | None) -> tuple[np.ndarray, np.ndarray]:
        return _exact_row(self.q[row], self.s, k, own)


class _DeviceExact:
    """Float64 re-measurements with torch on the device, from a copy of the original support set there (in its
    own float dtype; integers as float64) and query rows sent over as needed."""

    def __init__(self, q: np.ndarray, s: np.ndarray, dev: Any):
        import torch

        self.q, self.dev = q, dev
        kind = s.dtype if s.dtype in (np.float16, np.float32, np.float64) else np.dtype(np.float64)
        self.s_dev = torch.empty(s.shape, dtype=torch.from_numpy(np.empty(0, dtype=kind)).dtype, device=dev)
        step = max(1, _DEVICE_VALUES // s.shape[1])
        for i in range(0, len(s), step):
            self.s_dev[i : i + step].copy_(torch.from_numpy(np.ascontiguousarray(s[i : i + step], dtype=kind)))

    def _query(self, index: Any) -> Any:
        import torch

        return torch.from_numpy(np.asarray(self.q[index], dtype=np.float64)).to(self.dev)

    def pairs(self, q_index: np.ndarray, s_index: np.ndarray) -> np.ndarray:
        import torch

        out = np.empty(len(s_index), dtype=np.float64)
        step = max(1, _DEVICE_VALUES // self.s_dev.shape[1])
        for i in range(0, len(s_index), step):
            cols = torch.from_numpy(s_index[i : i + step]).to(self.dev)
            diff = self.s_dev[cols].double() - self._query(q_index[i : i + step])
            out[i : i + step] = (diff * diff).sum(dim=1).cpu().numpy()
        return out

    def rows(self, start: int, stop: int, cand: np.ndarray) -> np.ndarray:
        import torch

        out = np.empty(cand.shape, dtype=np.float64)
        step = max(1, _DEVICE_VALUES // (cand.shape[1] * self.s_dev.shape[1]))
        for i in range(0, len(cand), step):
            cols = torch.from_numpy(cand[i : i + step]).to(self.dev)
            diff = self.s_dev[cols].double() - self._query(slice(start + i, min(stop, start + i + step)))[:, None, :]
            out[i : i + step] = (diff * diff).sum(dim=-1).cpu().numpy()
        return out

    def full_row(self, row: int, k: int, own: int | None) -> tuple[np.ndarray, np.ndarray]:
        import torch

        q = self._query(row)
        d = torch.empty(len(self.s_dev), dtype=torch.float64, device=self.dev)
        step = max(1, _DEVICE_VALUES // self.s_dev.shape[1])
        for j in range(0, len(self.s_dev), step):
            diff = self.s_dev[j : j + step].double() - q
            d[j : j + step] = (diff * diff).sum(dim=1)
        if own is not None:
            d[own] = float("inf")
        order = torch.sort(d, stable=True).indices[:k]  # ties: the lower index first
        return order.cpu().numpy(), d[order].cpu().numpy()


def direct_sq_dist(q: np.ndarray, s: np.ndarray, cand: np.ndarray) -> np.ndarray:
    """sum((s - q)^2) in float64 for each query row and its candidate support rows, in cache-sized blocks."""
    out = np.empty(cand.shape, dtype=np.float64)
    rows = max(1, _CACHE_VALUES // (cand.shape[1] * s.shape[1]))
    for i in range(0, len(q), rows):
        diff = s[cand[i : i + rows]].astype(np.float64)
        diff -= np.asarray(q[i : i + rows, None, :], dtype=np.float64)
        out[i : i + rows] = (diff * diff).sum(-1)
    return out


def _pair_sq_dist(q: np.ndarray, q_index: np.ndarray, s: np.ndarray, s_index: np.ndarray) -> np.ndarray:
    """sum((s[j] - q[i])^2) in float64 for the pairs (q_index, s_index), in cache-sized blocks (the same
    operations, so the same values, as :func:`direct_sq_dist`)."""
    out = np.empty(len(s_index), dtype=np.float64)
    step = max(1, _CACHE_VALUES // s.shape[1])
    diff = np.empty((min(step, len(s_index)), s.shape[1]), dtype=np.float64)  # one, reused
    for i in range(0, len(s_index), step):
        t = diff[: len(s_index[i : i + step])]
        t[...] = s[s_index[i : i + step]]
        t -= q[q_index[i : i + step]]
        np.multiply(t, t, out=t)
        t.sum(1, out=out[i : i + step])
    return out


def _exact_row(q: np.ndarray, s: np.ndarray, k: int, own: int | None) -> tuple[np.ndarray, np.ndarray]:
    """One query against every support point in float64, ordered by (distance, index)."""
    q = np.asarray(q, dtype=np.float64)
    d = np.empty(len(s), dtype=np.float64)
    step = max(1, _CACHE_VALUES // s.shape[1])
    for j in range(0, len(s), step):
        diff = s[j : j + step].astype(np.float64)
        diff -= q
        d[j : j + step] = (diff * diff).sum(1)
    if own is not None:
        d[own] = np.inf
    order = np.argsort(d, kind="stable")[:k]
    return order, d[order]


def class_counts_and_sums(
    neighbour_labels: np.ndarray, sq_distances: np.ndarray, n_classes: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per row and class: how many of the neighbours carry the class, and the sum of their squared distances."""
    n = len(neighbour_labels)
    flat = (np.arange(n)[:, None] * n_classes + neighbour_labels).ravel()
    counts = np.bincount(flat, minlength=n * n_classes).reshape(n, n_classes)
    sums = np.bincount(flat, weights=sq_distances.ravel(), minlength=n * n_classes).reshape(n, n_classes)
    return counts, sums


def majority_vote(neighbour_labels: np.ndarray, sq_distances: np.ndarray, n_classes: int) -> np.ndarray:
    """The k-NN vote per row: the most frequent label; ties go to the class whose tied neighbours have the
    smallest sum of squared distances, then to the smaller class index."""
    labels = np.asarray(neighbour_labels)
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(
            f"neighbour_labels must lie in [0, n_classes={n_classes}), got values from {labels.min()} to {labels.max()}"
        )
    counts, sums = class_counts_and_sums(neighbour_labels, sq_distances, n_classes)
    top = counts.max(axis=1, keepdims=True)
    return np.where(counts == top, sums, np.inf).argmin(axis=1)
