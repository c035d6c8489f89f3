"""Class semantics from classifier weights (Filus, Romaszewski, Żarski 2025, "Semantic Depth Matters").

Pure functions, arrays in, arrays and DataFrames out:
- :func:`class_templates`: the rows of the final linear layer (one template per class);
- :func:`structural_similarity` (cosine of templates), :func:`functional_similarity` (from the confusions) and
  ``hierarchy.similarity(kind)`` (Wu-Palmer, path, Leacock-Chodorow): C x C class-similarity matrices;
- :class:`Hierarchy` (user trees and DAGs) and :class:`WordNetHierarchy` (WordNet 3.0 from local files):
  lowest common ancestors and their depths;
- :func:`similarity_depth`: Similarity Depth, with its groups and maximum-spanning-tree edges;
- :func:`compliance`: how well errors follow perceived (and semantic) similarity;
- :func:`class_graph`: the laid-out class graph (similarity and confusion edges) that the Explorer draws;
- :func:`study_efficientnet_lite0`: the whole study on a pretrained ImageNet model, with controls.
"""

from .compliance import compliance, edge_compliance
from .datasets import (
    DIGITS_SYNSETS,
    FASHION_MNIST_SYNSETS,
    MNIST_SYNSETS,
    class_synsets,
    imagenet1k_classes,
    imagenet1k_wnids,
)
from .depth import GROUPINGS, SimilarityDepth, group_classes, maximum_spanning_tree, similarity_depth
from .graph import ClassGraph, class_graph, top_k_neighbours
from .hierarchy import SIMILARITY_KINDS, Hierarchy
from .imagenet import (
    SemanticStudy,
    load_efficientnet_lite0,
    random_classifier_templates,
    semantic_depth_study,
    study_efficientnet_lite0,
)
from .similarity import check_similarity, confusion_counts, functional_similarity, structural_similarity
from .templates import class_templates
from .wordnet import WordNetHierarchy, default_cache_dir, find_wordnet_dir, load_wordnet

__all__ = [
    "DIGITS_SYNSETS",
    "FASHION_MNIST_SYNSETS",
    "GROUPINGS",
    "MNIST_SYNSETS",
    "SIMILARITY_KINDS",
    "ClassGraph",
    "Hierarchy",
    "SemanticStudy",
    "SimilarityDepth",
    "WordNetHierarchy",
    "check_similarity",
    "class_graph",
    "class_synsets",
    "class_templates",
    "compliance",
    "confusion_counts",
    "default_cache_dir",
    "edge_compliance",
    "find_wordnet_dir",
    "functional_similarity",
    "group_classes",
    "imagenet1k_classes",
    "imagenet1k_wnids",
    "load_efficientnet_lite0",
    "load_wordnet",
    "maximum_spanning_tree",
    "random_classifier_templates",
    "semantic_depth_study",
    "similarity_depth",
    "structural_similarity",
    "study_efficientnet_lite0",
    "top_k_neighbours",
]
