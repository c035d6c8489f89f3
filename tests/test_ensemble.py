"""Many models: dichotomy and error consistency against contingency tables counted by hand, loops and properties."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from difficulty_widget import Analysis
from difficulty_widget.measures import (
    dichotomy,
    error_consistency,
    error_consistency_matrix,
    error_consistency_report,
    kappa_bootstrap_ci,
    registry,
)


def kappa_from_table(a, b) -> float:
    """Geirhos et al. (2020) written out: count the 2x2 table one instance at a time, then c_obs, c_exp, kappa."""
    table = {(True, True): 0, (True, False): 0, (False, True): 0, (False, False): 0}
    for x, y in zip(a, b, strict=True):
        table[(bool(x), bool(y))] += 1
    n = sum(table.values())
    c_obs = (table[(True, True)] + table[(False, False)]) / n
    p1 = (table[(True, True)] + table[(True, False)]) / n
    p2 = (table[(True, True)] + table[(False, True)]) / n
    c_exp = p1 * p2 + (1 - p1) * (1 - p2)
    return (c_obs - c_exp) / (1 - c_exp)


def correlated_models(rng, n_models=4, n=300):
    """Models that share a per-instance difficulty, so their errors are positively consistent."""
    difficulty = rng.random(n)
    skill = rng.uniform(0.3, 0.8, size=(n_models, 1))
    return rng.random((n_models, n)) * 0.6 + (1 - difficulty) * 0.6 > 1 - skill


# ---------------------------------------------------------------------------------------------- kappa
def test_kappa_matches_the_contingency_table_formula():
    rng = np.random.default_rng(0)
    correct = correlated_models(rng)
    for i, j in itertools.combinations(range(4), 2):
        expected = kappa_from_table(correct[i], correct[j])
        assert error_consistency(correct[i], correct[j]) == pytest.approx(expected, rel=1e-12, abs=1e-12)
    # a hand-sized case: a = 3 both right, b = 1, c = 2, d = 4 -> c_obs 0.7, p1 0.4, p2 0.5, c_exp 0.5, kappa 0.4
    a = [1, 1, 1, 1, 0, 0, 0, 0, 0, 0]
    b = [1, 1, 1, 0, 1, 1, 0, 0, 0, 0]
    assert error_consistency(a, b) == pytest.approx(0.4, abs=1e-12)


def test_kappa_is_symmetric_and_accepts_ints_bools_and_floats():
    rng = np.random.default_rng(1)
    a, b = rng.random((2, 200)) < 0.7
    k = error_consistency(a, b)
    assert error_consistency(b, a) == k
    assert error_consistency(a.astype(int), b.astype(np.int8)) == k
    assert error_consistency(a.astype(float), b) == k


def test_identical_error_patterns_give_exactly_one():
    rng = np.random.default_rng(2)
    for accuracy in (0.01, 0.3, 0.5, 0.97):
        a = rng.random(1000) < accuracy
        assert 0 < a.mean() < 1
        assert error_consistency(a, a.copy()) == 1.0
    assert error_consistency([True, False], [True, False]) == 1.0


def test_opposite_patterns_give_minus_one_at_half_accuracy():
    a = np.arange(100) % 2 == 0
    assert error_consistency(a, ~a) == pytest.approx(-1.0)


def test_independent_errors_give_kappa_near_zero():
    rng = np.random.default_rng(3)
    a = rng.random(200_000) < 0.8
    b = rng.random(200_000) < 0.6
    assert abs(error_consistency(a, b)) < 0.05
    assert abs(error_consistency(a, b)) < 0.01  # standard error ~ 0.003 at this N


def test_degenerate_case_follows_geirhos_public_code_unless_asked_otherwise():
    always_right = np.ones(20, dtype=bool)
    always_wrong = np.zeros(20, dtype=bool)
    # c_exp = 1: kappa is 0/0; Geirhos' model-vs-human returns 1 when c_obs = 1
    assert error_consistency(always_right, always_right) == 1.0
    assert error_consistency(always_wrong, always_wrong) == 1.0
    assert np.isnan(error_consistency(always_right, always_right, undefined=np.nan))
    # not degenerate: one model always right, the other mixed -> c_obs = c_exp = p2 -> kappa 0
    mixed = np.arange(20) < 5
    assert error_consistency(always_right, mixed) == 0.0
    # one always right, the other always wrong: c_obs = 0, c_exp = 0 -> kappa 0
    assert error_consistency(always_right, always_wrong) == 0.0
    matrix = error_consistency_matrix(np.stack([always_right, mixed, always_right]))
    assert np.diag(matrix.to_numpy()).tolist() == [1.0, 1.0, 1.0]
    assert matrix.iloc[0, 2] == 1.0
    undefined = error_consistency_matrix(np.stack([always_right, mixed, always_right]), undefined=np.nan)
    assert np.isnan(undefined.iloc[0, 2]) and np.isnan(undefined.iloc[0, 0]) and undefined.iloc[1, 1] == 1.0


# ---------------------------------------------------------------------------------------------- matrix
def test_matrix_equals_the_pairwise_loop():
    rng = np.random.default_rng(4)
    correct = correlated_models(rng, n_models=5, n=400)
    names = ["a", "b", "c", "d", "e"]
    matrix = error_consistency_matrix(correct, names=names)
    assert list(matrix.index) == names and list(matrix.columns) == names
    for i, j in itertools.product(range(5), repeat=2):
        assert matrix.iloc[i, j] == pytest.approx(kappa_from_table(correct[i], correct[j]), rel=1e-12, abs=1e-12)
    assert np.array_equal(matrix.to_numpy(), matrix.to_numpy().T)
    subset = rng.random(400) < 0.3
    on_subset = error_consistency_matrix(correct, subset=subset)
    assert on_subset.equals(error_consistency_matrix(correct, subset=np.flatnonzero(subset)))
    for i, j in itertools.combinations(range(5), 2):
        expected = kappa_from_table(correct[i][subset], correct[j][subset])
        assert on_subset.iloc[i, j] == pytest.approx(expected, rel=1e-12, abs=1e-12)


def test_matrix_is_exact_across_chunks(monkeypatch):
    from difficulty_widget.measures import ensemble

    rng = np.random.default_rng(5)
    correct = correlated_models(rng, n_models=3, n=1001)
    whole = error_consistency_matrix(correct)
    monkeypatch.setattr(ensemble, "_CHUNK_VALUES", 7)  # 2 instances per chunk
    assert error_consistency_matrix(correct).equals(whole)


def test_report_compares_all_and_decisive_instances():
    rng = np.random.default_rng(6)
    correct = correlated_models(rng, n_models=4, n=500)
    report = error_consistency_report(correct, names=list("wxyz"))
    k = correct.sum(axis=0)
    decisive = (k > 0) & (k < 4)
    assert report.all_instances.equals(error_consistency_matrix(correct, names=list("wxyz")))
    assert report.decisive.equals(error_consistency_matrix(correct, subset=decisive, names=list("wxyz")))
    summary = report.summary()
    assert summary.loc["all", "n_instances"] == 500 and summary.loc["decisive", "n_instances"] == decisive.sum()
    off = ~np.eye(4, dtype=bool)
    assert summary.loc["decisive", "mean_kappa"] == pytest.approx(report.decisive.to_numpy()[off].mean())
    # trivial and impossible instances are agreements: removing them lowers every pair's consistency here
    assert (report.decisive.to_numpy()[off] < report.all_instances.to_numpy()[off]).all()


def test_report_without_decisive_instances_is_nan():
    correct = np.array([[1, 0, 1], [1, 0, 1]], dtype=bool)
    report = error_consistency_report(correct)
    assert report.all_instances.to_numpy().tolist() == [[1.0, 1.0], [1.0, 1.0]]
    assert np.isnan(report.decisive.to_numpy()).all()
    assert report.summary().loc["decisive", "n_instances"] == 0


# ---------------------------------------------------------------------------------------------- dichotomy
def test_dichotomy_on_a_hand_built_matrix():
    correct = np.array(
        [
            [1, 1, 0, 0, 1, 0, 1, 1],
            [1, 0, 0, 1, 1, 0, 1, 0],
            [1, 1, 0, 0, 1, 0, 0, 1],
        ]
    )
    result = dichotomy(correct)
    assert result.per_instance["n_models_correct"].tolist() == [3, 2, 0, 1, 3, 0, 2, 2]
    assert result.per_instance["dichotomy"].tolist() == [
        "trivial", "decisive", "impossible", "decisive", "trivial", "impossible", "decisive", "decisive",
    ]  # fmt: skip
    assert result.per_instance["n_models_correct"].dtype == np.int64
    assert result.summary.loc["trivial", "count"] == 2 and result.summary.loc["impossible", "count"] == 2
    assert result.summary.loc["decisive", "count"] == 4
    assert result.shares.to_dict() == {"impossible": 0.25, "decisive": 0.5, "trivial": 0.25}
    assert result.decisive.tolist() == [False, True, False, True, False, False, True, True]
    assert result.n_models == 3


def test_dichotomy_of_one_model_has_no_decisive_instances():
    result = dichotomy([[True, False, True]])
    assert result.per_instance["dichotomy"].tolist() == ["trivial", "impossible", "trivial"]
    assert result.summary.loc["decisive", "count"] == 0


@settings(max_examples=150, deadline=None)
@given(
    arrays(bool, st.tuples(st.integers(1, 6), st.integers(1, 40))),
    st.randoms(use_true_random=False),
)
def test_dichotomy_properties(correct, random):
    result = dichotomy(correct)
    assert result.shares.sum() == pytest.approx(1.0, abs=1e-12)
    assert result.summary["count"].sum() == correct.shape[1]
    assert result.per_instance["n_models_correct"].tolist() == correct.sum(axis=0).tolist()
    extra = np.array([random.random() < 0.5 for _ in range(correct.shape[1])])
    more = dichotomy(np.vstack([correct, extra])).per_instance["dichotomy"].to_numpy()
    before = result.per_instance["dichotomy"].to_numpy()
    assert not ((before == "impossible") & (more == "trivial")).any()
    assert not ((before == "trivial") & (more == "impossible")).any()
    assert ((more == "decisive") | (before != "decisive")).all()  # a decisive instance stays decisive


# ---------------------------------------------------------------------------------------------- bootstrap
def test_bootstrap_interval_contains_the_estimate_and_is_seeded():
    rng = np.random.default_rng(7)
    correct = correlated_models(rng, n_models=2, n=800)
    interval = kappa_bootstrap_ci(correct[0], correct[1], n_boot=2000, seed=3)
    assert interval.estimate == error_consistency(correct[0], correct[1])
    assert interval.low < interval.estimate < interval.high
    assert kappa_bootstrap_ci(correct[0], correct[1], n_boot=2000, seed=3) == interval
    assert kappa_bootstrap_ci(correct[0], correct[1], n_boot=2000, seed=4) != interval
    narrower = kappa_bootstrap_ci(correct[0], correct[1], n_boot=2000, level=0.5, seed=3)
    assert interval.low < narrower.low < narrower.high < interval.high


def test_bootstrap_matches_resampling_instances():
    """The multinomial shortcut against the textbook bootstrap: resample instance indices, recount, recompute."""
    rng = np.random.default_rng(8)
    a, b = correlated_models(rng, n_models=2, n=300)
    reference_rng = np.random.default_rng(123)
    kappas = []
    for _ in range(2000):
        idx = reference_rng.integers(0, 300, 300)
        kappas.append(kappa_from_table(a[idx], b[idx]))
    low, high = np.quantile(kappas, [0.025, 0.975])
    interval = kappa_bootstrap_ci(a, b, n_boot=4000, seed=0)
    assert interval.low == pytest.approx(low, abs=0.02)
    assert interval.high == pytest.approx(high, abs=0.02)


def test_bootstrap_of_a_degenerate_pair():
    ones = np.ones(50, dtype=bool)
    assert tuple(kappa_bootstrap_ci(ones, ones)) == (1.0, 1.0, 1.0)
    nan = kappa_bootstrap_ci(ones, ones, undefined=np.nan)
    assert all(np.isnan(v) for v in nan)


# ---------------------------------------------------------------------------------------------- registry
def test_registry_entries_and_adapter():
    n_correct, split = registry.get("n_models_correct"), registry.get("dichotomy")
    for m in (n_correct, split):
        assert m.perspective == "ensemble" and m.inputs == ("correct_per_model",) and m.direction == "hard = low"
    correct = np.array([[1, 0, 1, 0], [1, 0, 0, 1]], dtype=bool)
    out = registry.compute_available({"correct_per_model": correct})
    assert list(out.columns) == ["n_models_correct", "dichotomy"]
    assert out["n_models_correct"].tolist() == [2, 0, 1, 1]


def test_the_analysis_stores_and_sorts_the_dichotomy(tmp_path):
    correct = np.array([[1, 0, 1, 0, 1], [1, 0, 0, 1, 1]], dtype=bool)
    frame = pd.DataFrame({"id": np.arange(5), "label": [0, 1, 0, 1, 0]})
    frame = pd.concat([frame, registry.compute_available({"correct_per_model": correct})], axis=1)
    analysis = Analysis.from_dataframe(frame, ["a", "b"])  # as analyze() builds it: the categorical is kept
    assert analysis.df["dichotomy"].cat.ordered
    assert analysis.hardest("dichotomy", n=5)["dichotomy"].tolist()[:3] == ["impossible", "decisive", "decisive"]
    assert analysis.hardest("n_models_correct", n=1)["id"].tolist() == [1]
    loaded = Analysis.load(analysis.save(tmp_path / "a.parquet"))
    pd.testing.assert_frame_equal(loaded.df, analysis.df)


# ---------------------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: dichotomy([[0, 1, 2]]), "correct must hold only"),
        (lambda: dichotomy([0, 1, 1]), r"correct must have shape \(n_models, n_instances\)"),
        (lambda: dichotomy(np.zeros((2, 0), dtype=bool)), "correct is empty"),
        (lambda: dichotomy([["a", "b"]]), "correct must be boolean"),
        (lambda: dichotomy([[0.5, 1.0]]), "correct must hold only"),
        (lambda: dichotomy([[np.nan, 1.0]]), "correct must hold only"),
        (lambda: error_consistency([1, 0], [1, 0, 1]), "correct_a has 2 instances but correct_b has 3"),
        (lambda: error_consistency([1, 3], [1, 0]), "correct_a must hold only"),
        (lambda: error_consistency([1, 0], [[1, 0]]), "correct_b must have shape"),
        (lambda: error_consistency_matrix([[1, 0], [0, 1]], names=["a"]), "names has 1 entries"),
        (lambda: error_consistency_matrix([[1, 0], [0, 1]], names=["a", "a"]), "names must be unique"),
        (lambda: error_consistency_matrix([[1, 0], [0, 1]], subset=[True]), "subset is a boolean mask of length 1"),
        (lambda: error_consistency_matrix([[1, 0], [0, 1]], subset=[5]), "subset positions must lie"),
        (lambda: error_consistency_matrix([[1, 0], [0, 1]], subset=[False, False]), "subset selects no instances"),
        (lambda: error_consistency_matrix([[1, 0], [0, 1]], subset=[0.5]), "subset must be a boolean mask"),
        (lambda: kappa_bootstrap_ci([1, 0], [1, 0], n_boot=0), "n_boot must be a positive integer"),
        (lambda: kappa_bootstrap_ci([1, 0], [1, 0], level=1.0), "level must be a number strictly between"),
        (lambda: kappa_bootstrap_ci([1, 0], [1], level=0.9), "correct_a has 2 instances"),
        (lambda: registry.compute_available({"correct_per_model": [[2, 0]]}), "correct_per_model must hold only"),
    ],
)
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ---------------------------------------------------------------------------------------------- shuffle null
def brute_force_null(correct, subset, seed, stream, n_shuffles, conditioned_after=False):
    """The documented seed stream replayed with loops: per shuffle, row m -> row[rng.permutation(n)], rows in order;
    kappa of every pair counted one instance at a time (``kappa_from_table``). ``conditioned_after``: keep only the
    instances that are decisive in the shuffled rows (the selection null)."""
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(2)[stream])
    rows = [np.asarray(r)[subset] for r in correct]
    draws = {pair: [] for pair in itertools.combinations(range(len(rows)), 2)}
    for _ in range(n_shuffles):
        shuffled = [r[rng.permutation(len(r))] for r in rows]
        keep = [0 < sum(int(r[n]) for r in shuffled) < len(rows) for n in range(len(rows[0]))]
        for i, j in draws:
            a, b = shuffled[i], shuffled[j]
            if conditioned_after:
                a, b = a[np.array(keep)], b[np.array(keep)]
            draws[(i, j)].append(kappa_from_table(a, b))
    return draws


def test_shuffle_null_equals_the_loop_over_the_seed_stream():
    rng = np.random.default_rng(10)
    correct = correlated_models(rng, n_models=3, n=120)
    report = error_consistency_report(correct, names=list("abc"), n_shuffles=60, seed=5, level=0.9)
    decisive = (correct.sum(axis=0) > 0) & (correct.sum(axis=0) < 3)
    everything = np.ones(120, dtype=bool)
    expected = {
        "all": brute_force_null(correct, everything, 5, 0, 60),
        "decisive": brute_force_null(correct, decisive, 5, 1, 60),
    }
    selection = brute_force_null(correct, everything, 5, 0, 60, conditioned_after=True)
    assert len(report.pairs) == 6 and report.n_shuffles == 60 and report.level == 0.9
    for row in report.pairs.itertuples():
        i, j = "abc".index(row.model_a), "abc".index(row.model_b)
        subset = decisive if row.conditioning == "decisive" else everything
        kappa = kappa_from_table(correct[i][subset], correct[j][subset])
        draws = np.array(expected[row.conditioning][(i, j)])
        assert row.n_instances == subset.sum()
        assert row.kappa == pytest.approx(kappa, abs=1e-12)
        assert row.null_mean == pytest.approx(draws.mean(), abs=1e-12)
        assert row.null_high == pytest.approx(np.quantile(draws, 0.9), abs=1e-12)
        assert row.p_value == pytest.approx((1 + np.sum(draws >= kappa - 1e-12)) / 61, abs=1e-12)
        assert row.kappa_minus_null == pytest.approx(kappa - draws.mean(), abs=1e-12)
        chosen = selection[(i, j)] if row.conditioning == "decisive" else draws
        assert row.selection_null_mean == pytest.approx(np.mean(chosen), abs=1e-12)


def test_shuffle_null_of_identical_and_of_independent_models():
    # two identical models at accuracy 1/2: kappa 1, while shuffled copies agree by chance only (null ~ 0)
    same = np.arange(2000) % 2 == 0
    report = error_consistency_report(np.stack([same, same]), n_shuffles=300, seed=1)
    row = report.pairs.set_index("conditioning").loc["all"]
    assert row.kappa == 1.0 and abs(row.null_mean) < 0.01 and row.null_high < 0.06
    assert row.p_value == pytest.approx(1 / 301) and row.kappa_minus_null > 0.98
    # the exact null: a ~ hypergeometric(n, k1, k2) and kappa is linear in a, so its mean is 0 and its 95th
    # percentile is the hypergeometric one mapped through kappa = 2 (a n - k1 k2) / (k1 (n - k2) + k2 (n - k1))
    from scipy.stats import hypergeom

    rng = np.random.default_rng(2)
    a, b = rng.random((2, 3000)) < np.array([[0.8], [0.6]])
    report = error_consistency_report(np.stack([a, b]), n_shuffles=2000, seed=3)
    row = report.pairs.set_index("conditioning").loc["all"]
    n, k1, k2 = 3000, int(a.sum()), int(b.sum())
    denominator = k1 * (n - k2) + k2 * (n - k1)
    sd = 2 * n * hypergeom(n, k1, k2).std() / denominator
    assert abs(row.null_mean) < 4 * sd / np.sqrt(2000)
    high = 2 * (hypergeom(n, k1, k2).ppf(0.95) * n - k1 * k2) / denominator
    assert row.null_high == pytest.approx(high, abs=0.3 * sd)
    assert abs(row.kappa - row.null_mean) < 4 * sd  # independent models: kappa is a draw from the null
    assert 0.0 < row.p_value <= 1.0


def test_selection_null_of_two_models_is_minus_2bc_over_b2_plus_c2():
    # with two models the decisive instances are those where exactly one is right (b of them for the first,
    # c for the second): kappa there is -2 b c / (b^2 + c^2), for the models and for any shuffle of them
    rng = np.random.default_rng(4)
    a, b = rng.random((2, 4000)) < 0.5
    report = error_consistency_report(np.stack([a, b]), n_shuffles=200, seed=0)
    row = report.pairs.set_index("conditioning").loc["decisive"]
    only_a, only_b = np.sum(a & ~b), np.sum(~a & b)
    assert row.kappa == pytest.approx(-2 * only_a * only_b / (only_a**2 + only_b**2), abs=1e-12)
    assert -1.0 <= row.selection_null_mean < -0.99  # b ~ c for independent balanced models
    # within the decisive instances every shuffle keeps b + c ones in each row: the null's mean is 0 instead
    assert abs(row.null_mean) < 0.02


def test_report_summary_and_null_free_report():
    rng = np.random.default_rng(11)
    correct = correlated_models(rng, n_models=4, n=400)
    report = error_consistency_report(correct, n_shuffles=50)
    summary = report.summary()
    decisive_rows = report.pairs[report.pairs["conditioning"] == "decisive"]
    assert summary.loc["decisive", "mean_null"] == pytest.approx(decisive_rows["null_mean"].mean())
    assert summary.loc["decisive", "mean_kappa_minus_null"] == pytest.approx(
        decisive_rows["kappa"].mean() - decisive_rows["null_mean"].mean()
    )
    assert (report.pairs.loc[report.pairs["conditioning"] == "all", "kappa_minus_null"] > 0).all()  # shared difficulty
    bare = error_consistency_report(correct, n_shuffles=0)
    assert bare.pairs[["null_mean", "null_high", "p_value", "selection_null_mean"]].isna().all().all()
    assert bare.pairs["kappa"].equals(report.pairs["kappa"])
    assert error_consistency_report(correct, n_shuffles=50).pairs.equals(report.pairs)  # seeded
    assert not error_consistency_report(correct, n_shuffles=50, seed=1).pairs.equals(report.pairs)
    with pytest.raises(ValueError, match="n_shuffles must be a non-negative integer"):
        error_consistency_report(correct, n_shuffles=-1)
    with pytest.raises(ValueError, match="level must be a number strictly between"):
        error_consistency_report(correct, level=1.5)
