"""Per-instance difficulty measures: pure functions, arrays in, per-instance arrays out.

Importing this package registers every measure in :mod:`difficulty_widget.measures.registry`.
"""

from . import registry
from .data import centroid_distance, class_frequency, knn_label_agreement, local_density
from .data_quality import (
    DATA_QUALITY_COLUMNS,
    DataQualitySummary,
    data_quality_scores,
    data_quality_summary,
    exact_duplicate_groups,
    pixel_hashes,
)
from .depth import DepthFlow, DepthResult, depth_flow, prediction_depth
from .dynamics import (
    area_under_margin,
    data_iq,
    data_map,
    el2n_early,
    first_forgotten,
    first_learned,
    forgetting_events,
    iteration_learned,
    mean_loss,
    unforgettable,
)
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
from .gradients import grand_full, grand_last_layer
from .human import difficulty_quadrants, human_scores, model_human_alignment
from .knn import majority_vote, nearest_neighbours
from .label_issues import (
    LABEL_ISSUE_COLUMNS,
    LabelIssueSummary,
    calibrate_confident_joint,
    confident_joint,
    estimated_label_errors,
    find_label_issues,
    label_issue_scores,
    label_issue_summary,
    per_class_thresholds,
)
from .model import (
    BATTERY_COLUMNS,
    MODEL_SCORE_COLUMNS,
    confidence_weighted_entropy,
    el2n,
    mistakenness,
    model_scores,
    normalized_margin,
)
from .registry import Measure, axis_title, compute_available, register
from .semantic_errors import error_semantic_depth, error_similarity_rank

__all__ = [
    "BATTERY_COLUMNS",
    "DATA_QUALITY_COLUMNS",
    "LABEL_ISSUE_COLUMNS",
    "MODEL_SCORE_COLUMNS",
    "BootstrapInterval",
    "DataQualitySummary",
    "DepthFlow",
    "DepthResult",
    "DichotomyResult",
    "ErrorConsistencyReport",
    "LabelIssueSummary",
    "Measure",
    "area_under_margin",
    "axis_title",
    "calibrate_confident_joint",
    "centroid_distance",
    "class_frequency",
    "compute_available",
    "confidence_weighted_entropy",
    "confident_joint",
    "data_iq",
    "data_map",
    "data_quality_scores",
    "data_quality_summary",
    "depth_flow",
    "dichotomy",
    "difficulty_quadrants",
    "el2n",
    "el2n_early",
    "error_consistency",
    "error_consistency_matrix",
    "error_consistency_report",
    "error_semantic_depth",
    "error_similarity_rank",
    "estimated_label_errors",
    "exact_duplicate_groups",
    "find_label_issues",
    "first_forgotten",
    "first_learned",
    "flow_summary",
    "forgetting_events",
    "grand_full",
    "grand_last_layer",
    "human_scores",
    "iteration_learned",
    "kappa_bootstrap_ci",
    "knn_label_agreement",
    "label_issue_scores",
    "label_issue_summary",
    "layer_tables",
    "local_density",
    "majority_vote",
    "mean_loss",
    "mistakenness",
    "model_human_alignment",
    "model_scores",
    "nearest_neighbours",
    "normalized_margin",
    "per_class_thresholds",
    "pixel_hashes",
    "prediction_depth",
    "register",
    "registry",
    "select_by_layer_range",
    "unforgettable",
]
