"""The seam between the neighbour-based measures and the engine that runs their exact k-NN searches.

A measure that searches neighbours (prediction depth, the data scores) takes ``search``, a :data:`KnnSearch`:
any callable ``search(query, support, k, *, exclude_self, precision, device) -> Neighbours`` that returns what
:func:`~difficulty_widget.measures.knn.nearest_neighbours` returns under the same rule (the first ``k`` support
rows by (float64 squared distance, index)). The default is the in-process engine; executors such as
:class:`difficulty_widget.pipeline.distributed.RayExecutor` provide others. The measures never import an
engine: they only call the function they are given.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .knn import Neighbours

#: ``search(query, support, k, *, exclude_self, precision, device) -> Neighbours``
KnnSearch = Callable[..., Neighbours]


def in_process_search(memory_budget: int | str | None = None) -> KnnSearch:
    """The in-process engine as a :data:`KnnSearch`: the in-memory search, or with a ``memory_budget`` the streamed
    one that reads the support set in row blocks that fit it (the same neighbours either way)."""
    from .knn import nearest_neighbours
    from .knn_streamed import streamed_nearest_neighbours

    def search(query: Any, support: Any, k: int, *, exclude_self: Any = False, precision: str = "auto",
               device: Any = None) -> Neighbours:  # fmt: skip
        if memory_budget is None:
            return nearest_neighbours(query, support, k, exclude_self=exclude_self, precision=precision, device=device)
        return streamed_nearest_neighbours(
            query, support, k, exclude_self=exclude_self, precision=precision, device=device,
            memory_budget=memory_budget,
        )  # fmt: skip

    return search


class ReusedSearch:
    """A :data:`KnnSearch` that answers a repeated search from an earlier answer.

    Several measures of one analysis search the same neighbours: the data scores and the label-issue flag both
    take the 30 nearest training neighbours of every training row on the features probe. Wrapped in this, a
    search returns an earlier one's :class:`~difficulty_widget.measures.knn.Neighbours` when its query and
    support hold the same values (the same memory, or equal contents; checked, never assumed), with the same
    ``k``, ``exclude_self`` and device. The precision is not compared: every precision gives the same neighbours.
    Only the latest ``keep`` answers are kept (default 3: the training rows among themselves, the test rows against
    them, and the test rows among themselves, which the duplicates search), so memory stays at a few neighbour
    lists (N x k each).

    ``calls`` and ``reused`` count the searches asked for and those answered without searching.
    """

    def __init__(self, search: KnnSearch, keep: int = 3) -> None:
        self.search = search
        self.keep = int(keep)
        self.calls = 0
        self.reused = 0
        self._answers: list[tuple[np.ndarray, np.ndarray, tuple[int, bool, str], Neighbours]] = []

    def __call__(self, query: Any, support: Any, k: int, *, exclude_self: Any = False, precision: str = "auto",
                 device: Any = None) -> Neighbours:  # fmt: skip
        self.calls += 1
        cacheable = isinstance(exclude_self, (bool, np.bool_)) and isinstance(query, np.ndarray)
        cacheable = cacheable and isinstance(support, np.ndarray)
        key = (int(k), bool(exclude_self), str(device))
        if cacheable:
            for last_query, last_support, last_key, answer in self._answers:
                if last_key == key and _same_values(last_support, support) and _same_values(last_query, query):
                    self.reused += 1
                    return answer
        answer = self.search(query, support, k, exclude_self=exclude_self, precision=precision, device=device)
        if cacheable and self.keep > 0:
            self._answers = [*self._answers, (query, support, key, answer)][-self.keep :]
        return answer


def _same_values(a: np.ndarray, b: np.ndarray, rows_per_block: int = 65536) -> bool:
    """Whether two arrays hold the same values: the same view of the same memory, or equal row blocks."""
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a is b or (a.__array_interface__["data"][0] == b.__array_interface__["data"][0] and a.strides == b.strides):
        return True
    return all(
        np.array_equal(a[start : start + rows_per_block], b[start : start + rows_per_block])
        for start in range(0, len(a), rows_per_block)
    )
