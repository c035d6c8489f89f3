"""difficulty-widget: per-instance difficulty for image classifiers, explored in JupyterLab.

The public surface: :class:`Analysis` (the table every view reads), :func:`analyze` (model + data ->
Analysis; :func:`extract_to` and :func:`analyze_from` do the same in two steps through a run directory on
disk), :func:`analyze_models` (many models -> one Analysis with trivial / impossible / decisive instances
and error consistency), :class:`Explorer` (the JupyterLab widget), and the subpackages ``data`` (loaders, thumbnails),
``extract`` (model pass, probes, small models), ``measures`` (pure score functions and their registry).
"""

from ._version import __version__
from .analysis import Analysis
from .pipeline import analyze_from, extract_to
from .pipeline.collection import analyze_models, train_zoo
from .pipeline.demo import demo_data
from .pipeline.scoring import analysis_from_extraction, analyze

__all__ = [
    "Analysis",
    "Explorer",
    "__version__",
    "analysis_from_extraction",
    "analyze",
    "analyze_from",
    "analyze_models",
    "demo_data",
    "extract_to",
    "train_zoo",
]


def __getattr__(name: str):
    if name == "Explorer":  # imported on first use: the widget stack is not needed for scoring
        from .widget import Explorer

        return Explorer
    raise AttributeError(f"module 'difficulty_widget' has no attribute {name!r}")
