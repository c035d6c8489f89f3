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

from .knn import Neighbours

#: ``search(query, support, k, *, exclude_self, precision, device) -> Neighbours``
KnnSearch = Callable[..., Neighbours]
