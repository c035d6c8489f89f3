"""Per-instance difficulty measures: pure functions, arrays in, per-instance arrays out.

Importing this package registers every measure in :mod:`difficulty_widget.measures.registry`.
"""

from . import registry
from .model import MODEL_SCORE_COLUMNS, model_scores
from .registry import Measure, axis_title, compute_available, register

__all__ = ["MODEL_SCORE_COLUMNS", "Measure", "axis_title", "compute_available", "model_scores", "register", "registry"]
