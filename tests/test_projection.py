"""Projection: PCA against an independent NumPy SVD, determinism, the columns and provenance it adds, bad input."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest
import torch

from difficulty_widget import Analysis
from difficulty_widget.projection import add_projection, project


def clear_spectrum(n: int = 120, d: int = 8, seed: int = 0) -> np.ndarray:
    """Rows with singular values 20, 8, 3, 1, ... plus small noise and an offset (so centring matters)."""
    rng = np.random.default_rng(seed)
    u, _ = np.linalg.qr(rng.normal(size=(n, d)))
    v, _ = np.linalg.qr(rng.normal(size=(d, d)))
    s = np.array([20.0, 8.0, 3.0, 1.0] + [0.5] * (d - 4))
    return (u * s) @ v.T * np.sqrt(n) + 5.0 + rng.normal(scale=1e-3, size=(n, d))


@pytest.fixture()
def analysis() -> Analysis:
    rng = np.random.default_rng(0)
    n = 60
    frame = pd.DataFrame({"id": np.arange(500, 500 + n), "label": rng.integers(0, 3, n)})
    return Analysis(frame, ["a", "b", "c"], provenance={"model": "m"})


def test_pca_equals_numpy_svd_with_the_sign_rule():
    x = clear_spectrum()
    centred = x - x.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    loadings = vt[:2].T
    pivots = np.abs(loadings).argmax(axis=0)
    loadings = loadings * np.sign(loadings[pivots, [0, 1]])  # largest-|loading| entry positive
    expected = centred @ loadings
    got = project(x, seed=3)
    assert got.shape == (120, 2) and got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-4 * np.abs(expected).max())
    # up to sign, the same holds for float32 input
    np.testing.assert_allclose(np.abs(project(x.astype(np.float32))), np.abs(expected), rtol=1e-3, atol=1e-2)


def test_sign_rule_makes_the_map_of_negated_features_the_negated_map():
    x = clear_spectrum(seed=1)
    np.testing.assert_allclose(project(-x), -project(x), rtol=1e-5, atol=1e-4)


def test_deterministic_given_seed_and_global_rng_untouched():
    x = np.random.default_rng(2).normal(size=(300, 20)).astype(np.float32)
    torch.manual_seed(123)
    state = torch.random.get_rng_state()
    first, second = project(x, seed=7), project(x, seed=7)
    assert np.array_equal(first, second)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert np.array_equal(project(torch.from_numpy(x), seed=7), first)  # tensors are accepted


def test_add_projection_columns_provenance_and_round_trip(analysis, tmp_path):
    features = np.random.default_rng(1).normal(size=(len(analysis), 16))
    out = add_projection(analysis, features, probe="head", seed=4)
    assert out is analysis
    df = analysis.df
    assert df["proj_x"].dtype == np.float32 and df["proj_y"].dtype == np.float32
    expected = project(features, seed=4)
    assert np.array_equal(df[["proj_x", "proj_y"]].to_numpy(), expected)
    record = analysis.provenance["projection"]
    assert {k: record[k] for k in ("method", "probe", "seed")} == {"method": "pca", "probe": "head", "seed": 4}
    loaded = Analysis.load(analysis.save(tmp_path / "a.parquet"))
    pd.testing.assert_frame_equal(loaded.df, analysis.df, check_exact=True)
    assert loaded.provenance["projection"] == record

    with pytest.raises(ValueError, match=r"already exist.*overwrite=True"):
        add_projection(analysis, features, seed=5)
    add_projection(analysis, features, seed=5, overwrite=True, niter=6)
    assert analysis.provenance["projection"]["options"] == {"niter": 6}
    add_projection(analysis, features, prefix="emb")
    assert {"emb_x", "emb_y"} <= set(analysis.df.columns) and "projection_emb" in analysis.provenance


def test_bad_input(analysis, monkeypatch):
    x = np.random.default_rng(0).normal(size=(10, 4))
    with pytest.raises(ValueError, match=r"method must be one of \('pca', 'umap', 'tsne'\)"):
        project(x, "mds")
    with pytest.raises(ValueError, match="2-D array"):
        project(x[:, 0])
    with pytest.raises(ValueError, match="at least 3 rows"):
        project(x[:2])
    with pytest.raises(ValueError, match="at least 2 columns"):
        project(x[:, :1])
    bad = x.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match=r"NaN or infinite values in 1 row\(s\) \(first: \[3\]\)"):
        project(bad)
    with pytest.raises(ValueError, match="real numbers"):
        project(x > 0)
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        project(x, seed=-1)
    with pytest.raises(ValueError, match=r"options \['perplexity'\].*valid options"):
        project(x, perplexity=5)
    monkeypatch.setitem(sys.modules, "umap", None)  # as if umap-learn were not installed
    monkeypatch.setitem(sys.modules, "openTSNE", None)
    with pytest.raises(ValueError, match="pip install umap-learn"):
        project(x, "umap")
    with pytest.raises(ValueError, match="pip install openTSNE"):
        project(x, "tsne")
    with pytest.raises(ValueError, match=r"features has 10 rows, expected 60"):
        add_projection(analysis, x)
    with pytest.raises(ValueError, match="prefix must be"):
        add_projection(analysis, np.zeros((60, 3)), prefix="")
    assert "proj_x" not in analysis.df.columns and "projection" not in analysis.provenance


def test_tsne_is_seeded_and_keeps_separate_clusters_apart():
    pytest.importorskip("openTSNE", reason="openTSNE is in the test extra: pip install -e '.[test]'")
    rng = np.random.default_rng(3)
    centres = rng.normal(size=(3, 30)) * 12
    labels = np.repeat(np.arange(3), 80)
    x = (centres[labels] + rng.normal(size=(240, 30))).astype(np.float32)
    one, two = project(x, "tsne", seed=4), project(x, "tsne", seed=4)
    assert one.shape == (240, 2) and one.dtype == np.float32 and np.array_equal(one, two)
    # every point's nearest neighbour in the map is from its own cluster
    d = np.linalg.norm(one[:, None, :] - one[None, :, :], axis=2)
    np.fill_diagonal(d, np.inf)
    assert (labels[d.argmin(axis=1)] == labels).all()
    assert not np.array_equal(project(x, "tsne", seed=5), one)
