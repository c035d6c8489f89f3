"""difficulty-widget: per-instance difficulty for image classifiers, explored in JupyterLab.

The public surface: :class:`Analysis` (the table every view reads), :func:`analyze` (model + data ->
Analysis), and the subpackages ``data`` (loaders, thumbnails), ``extract`` (model pass, probes, small
models), ``measures`` (pure score functions and their registry).
"""

from ._version import __version__
from .analysis import Analysis
from .scoring import analysis_from_extraction, analyze

__all__ = ["Analysis", "__version__", "analysis_from_extraction", "analyze"]
