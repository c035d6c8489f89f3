"""Per-instance difficulty measures: pure functions, arrays in, per-instance arrays out.

Importing this package registers every measure in :mod:`difficulty_widget.measures.registry`.
"""

from . import registry
from .data import centroid_distance, class_frequency, knn_label_agreement, local_density
from .depth import DepthResult, prediction_depth
from .dynamics import area_under_margin, data_map, forgetting_events, iteration_learned
from .knn import majority_vote, nearest_neighbours
from .model import MODEL_SCORE_COLUMNS, model_scores
from .registry import Measure, axis_title, compute_available, register

__all__ = [
    "MODEL_SCORE_COLUMNS",
    "DepthResult",
    "Measure",
    "area_under_margin",
    "axis_title",
    "centroid_distance",
    "class_frequency",
    "compute_available",
    "data_map",
    "forgetting_events",
    "iteration_learned",
    "knn_label_agreement",
    "local_density",
    "majority_vote",
    "model_scores",
    "nearest_neighbours",
    "prediction_depth",
    "register",
    "registry",
]
