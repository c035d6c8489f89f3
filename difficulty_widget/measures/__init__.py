"""Per-instance difficulty measures: pure functions, arrays in, per-instance arrays out.

Importing this package registers every measure in :mod:`difficulty_widget.measures.registry`.
"""

from . import registry
from .data import centroid_distance, class_frequency, knn_label_agreement, local_density
from .depth import DepthFlow, DepthResult, depth_flow, prediction_depth
from .dynamics import area_under_margin, data_map, forgetting_events, iteration_learned
from .ensemble import (
    BootstrapInterval,
    DichotomyResult,
    ErrorConsistencyReport,
    dichotomy,
    error_consistency,
    error_consistency_matrix,
    error_consistency_report,
    kappa_bootstrap_ci,
)
from .flow import flow_summary, layer_tables, select_by_layer_range
from .human import difficulty_quadrants, human_scores, model_human_alignment
from .knn import majority_vote, nearest_neighbours
from .model import MODEL_SCORE_COLUMNS, model_scores
from .registry import Measure, axis_title, compute_available, register
from .semantic_errors import error_semantic_depth, error_similarity_rank

__all__ = [
    "MODEL_SCORE_COLUMNS",
    "BootstrapInterval",
    "DepthFlow",
    "DepthResult",
    "DichotomyResult",
    "ErrorConsistencyReport",
    "Measure",
    "area_under_margin",
    "axis_title",
    "centroid_distance",
    "class_frequency",
    "compute_available",
    "data_map",
    "depth_flow",
    "dichotomy",
    "difficulty_quadrants",
    "error_consistency",
    "error_consistency_matrix",
    "error_consistency_report",
    "error_semantic_depth",
    "error_similarity_rank",
    "flow_summary",
    "forgetting_events",
    "human_scores",
    "iteration_learned",
    "kappa_bootstrap_ci",
    "knn_label_agreement",
    "layer_tables",
    "local_density",
    "majority_vote",
    "model_human_alignment",
    "model_scores",
    "nearest_neighbours",
    "prediction_depth",
    "register",
    "registry",
    "select_by_layer_range",
]
