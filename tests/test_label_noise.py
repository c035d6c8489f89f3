"""Validation on real data: a small CNN trained on Fashion-MNIST with 5% of the training labels flipped to
random other classes (seeded). Low k-NN agreement and low AUM must find the flipped examples; prediction depth
on the clean test split must fall as confidence rises (Baldock et al. 2021 report the same sign).

Measured when written (3 epochs): AUROC k-NN agreement 0.994, AUM 0.995, data-map confidence 0.995, loss 0.992.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score

from difficulty_widget.data import load_fashion_mnist
from difficulty_widget.extract import extract
from difficulty_widget.measures import area_under_margin, data_map, knn_label_agreement, model_scores, prediction_depth


def test_flipped_labels_are_found(noisy_fashion_run):
    train, _, flipped, result, head = noisy_fashion_run
    auroc = {
        "knn_agreement": roc_auc_score(flipped, -knn_label_agreement(head, train.labels, k=30)),
        "aum": roc_auc_score(flipped, -area_under_margin(result.logits_per_epoch, train.labels)),
        "dm_confidence": roc_auc_score(flipped, -data_map(result.logits_per_epoch, train.labels)["dm_confidence"]),
    }
    print(auroc)
    assert auroc["knn_agreement"] >= 0.98 and auroc["aum"] >= 0.98
    assert auroc["dm_confidence"] >= 0.95


def test_prediction_depth_falls_as_confidence_rises_on_clean_test_data(noisy_fashion_run, fashion_dir):
    train, clean, _, result, _ = noisy_fashion_run
    test = load_fashion_mnist("test", root=fashion_dir).subset(np.arange(2000))
    support_rows = np.arange(20000)
    support = extract(result.model, train.subset(support_rows), probes="default", progress=False)
    queries = extract(result.model, test, probes="default", progress=False)
    depth = prediction_depth(
        list(queries.probes.values()), list(support.probes.values()), clean[support_rows], queries.predictions,
        progress=False,
    )  # fmt: skip
    confidence = model_scores(queries.logits, test.labels)["confidence"]
    rho = spearmanr(depth.depth, confidence).statistic
    print(f"Spearman(depth, confidence) = {rho:.3f}")
    assert rho < 0
