"""Pipelines that run a model over data and score it in steps: a run directory on disk (``extract_to``, then
``analyze_from``) for data too big to hold in memory in one pass."""

from .run_directory import RunDirectory, RunDirectoryError, analyze_from, extract_to

__all__ = ["RunDirectory", "RunDirectoryError", "analyze_from", "extract_to"]
