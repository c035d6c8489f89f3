"""Difficulty patterns against hand-written pandas masks; the binned heatmap against numpy.histogram2d."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from difficulty_widget import Analysis
from difficulty_widget.measures import registry
from difficulty_widget.measures.dynamics import DYNAMICS_COLUMNS
from difficulty_widget.patterns import (
    PATTERNS,
    Pattern,
    available_patterns,
    binned_pair,
    cell_members,
    pattern_description,
    pattern_labels,
    pattern_mask,
    pattern_query,
    select_pattern,
)


@pytest.fixture(scope="module")
def df() -> pd.DataFrame:
    """Scores with ties (agreement in tenths, k-NN agreement in 30ths, integer depth) and some NaN; flags, some
    missing (label issues on training rows, leakage on test rows)."""
    rng = np.random.default_rng(0)
    n = 600
    agreement = np.minimum(1.0, np.round(rng.beta(5, 1, n), 1))
    agreement[rng.choice(n, 20, replace=False)] = np.nan
    aum = rng.normal(1.0, 2.0, n)
    aum[rng.choice(n, 15, replace=False)] = np.nan
    flagged = pd.array(rng.random(n) < 0.1, dtype="boolean")
    flagged[rng.choice(n, 150, replace=False)] = pd.NA  # the flag covers the training rows only
    depth = rng.integers(0, 7, n)  # 6 probes: depth 6 is undetermined
    frame = pd.DataFrame(
        {
            "id": rng.permutation(np.arange(10_000, 10_000 + n)),
            "label": rng.integers(0, 4, n),
            "loss": rng.exponential(1.0, n),
            "confidence": rng.uniform(0.25, 1.0, n),
            "correct": rng.random(n) < 0.7,
            "prediction_depth": depth,
            "depth_undetermined": depth == 6,
            "knn_agreement": rng.integers(0, 31, n) / 30,
            "aum": aum,
            "human_agreement": agreement,
            "label_issue": flagged,
        }
    )
    leaked = pd.array(rng.random(n) < 0.1, dtype="boolean")
    leaked[~flagged.isna()] = pd.NA  # the leakage flag covers the test rows only
    frame["leaked"] = leaked
    frame["outlier"] = rng.random(n) < 0.05
    frame["conflicting_duplicate_labels"] = rng.random(n) < 0.03
    regions = ["easy-to-learn", "ambiguous", "hard-to-learn"]
    frame["dm_region"] = pd.Categorical(rng.choice(regions, n), categories=regions)
    return frame


def q(df: pd.DataFrame, column: str, p: float) -> float:
    return float(np.nanquantile(df[column].to_numpy(dtype=float), p))


def expected_masks(df: pd.DataFrame) -> dict[str, pd.Series]:
    return {
        "hard for the model, easy for humans": (df["loss"] >= q(df, "loss", 0.75))
        & (df["human_agreement"] >= q(df, "human_agreement", 0.75)),
        "easy for the model, hard for humans": (df["loss"] <= q(df, "loss", 0.25))
        & (df["human_agreement"] <= q(df, "human_agreement", 0.25)),
        "confident but wrong": ~df["correct"] & (df["confidence"] >= 0.9),
        # 6 probes: the last third is probes 4 and 5; depth 6 means the probes never settle
        "deep but correct": df["correct"] & df["prediction_depth"].isin([4, 5]),
        "label issues": df["label_issue"].fillna(False).astype(bool),
        "likely mislabelled": df["label_issue"].fillna(False).astype(bool),
        "easy to learn": df["dm_region"] == "easy-to-learn",
        "ambiguous": df["dm_region"] == "ambiguous",
        "hard to learn": df["dm_region"] == "hard-to-learn",
        "leaked": pd.Series([v is True for v in df["leaked"].astype(object)], index=df.index),
        "outliers": df["outlier"],
        "conflicting duplicates": df["conflicting_duplicate_labels"],
    }


def test_every_pattern_equals_a_hand_written_mask(df):
    expected = expected_masks(df)
    assert list(PATTERNS) == list(expected)
    for name, mask in expected.items():
        assert 0 < mask.sum() < len(df), name  # a pattern that selects nothing or everything tests nothing
        np.testing.assert_array_equal(select_pattern(df, name), df["id"][mask].to_numpy(), err_msg=name)
        np.testing.assert_array_equal(pattern_mask(df, name), mask.to_numpy(), err_msg=name)


def test_queries_are_plain_numbers_that_df_query_runs(df):
    assert pattern_query(df, "confident but wrong") == "correct == False and confidence >= 0.9"
    query = "loss >= {} and human_agreement >= {}".format(q(df, "loss", 0.75), q(df, "human_agreement", 0.75))
    assert pattern_query(df, "hard for the model, easy for humans") == query
    depth = "correct == True and depth_undetermined == False and prediction_depth >= 4"
    assert pattern_query(df, "deep but correct") == depth
    for name in PATTERNS:
        text = pattern_query(df, name)
        assert "quantile" not in text and "probe_fraction" not in text
        np.testing.assert_array_equal(df.query(text)["id"].to_numpy(), select_pattern(df, name))


def test_needs_are_registered_measures_used_by_the_query():
    known = {m.name for m in registry.measures()} | {"dm_region"}  # the data map's region: a column, not a measure
    assert "dm_region" in DYNAMICS_COLUMNS
    for top in PATTERNS.values():
        pattern = top
        while pattern is not None:
            assert set(pattern.needs) <= known, pattern.name
            assert all(column in pattern.query for column in pattern.needs), pattern.name
            pattern = pattern.fallback


def test_analysis_and_custom_patterns(df):
    analysis = Analysis.from_dataframe(df)
    np.testing.assert_array_equal(select_pattern(analysis, "deep but correct"), select_pattern(df, "deep but correct"))
    low_loss = Pattern("low loss", "loss < quantile(loss, 0.1)", "The easiest tenth.", ("loss",))
    np.testing.assert_array_equal(select_pattern(df, low_loss), df["id"][df["loss"] < q(df, "loss", 0.1)])


def test_available_patterns(df):
    assert available_patterns(df) == list(PATTERNS)
    partial = df.drop(columns=["aum", "dm_region"]).assign(human_agreement=np.nan)
    flags = ["leaked", "outliers", "conflicting duplicates"]
    both = ["label issues", "likely mislabelled"]
    assert available_patterns(partial) == ["confident but wrong", "deep but correct", *both, *flags]
    unflagged = available_patterns(df.assign(label_issue=pd.NA))  # no training rows flagged: the AUM fallback
    assert "label issues" not in unflagged and "likely mislabelled" in unflagged
    assert "likely mislabelled" not in available_patterns(partial.drop(columns=["label_issue"]))
    # without undetermined rows or provenance the number of probes is unknown: no depth pattern
    assert "deep but correct" not in available_patterns(df.assign(depth_undetermined=False))
    assert "deep but correct" in available_patterns(df.assign(depth_undetermined=False), n_probes=6)
    assert "leaked" not in available_patterns(df.assign(leaked=pd.NA))  # no test rows


def test_unknown_and_missing_errors(df):
    with pytest.raises(ValueError, match=r"unknown pattern 'hard'; valid names: \['hard for the model"):
        select_pattern(df, "hard")
    with pytest.raises(ValueError, match=r"\['label_issue'\], which df does not have; its fallback needs the columns "
                       r"\['knn_agreement'\]"):  # fmt: skip
        select_pattern(df.drop(columns=["knn_agreement", "label_issue"]), "likely mislabelled")
    with pytest.raises(ValueError, match="pass n_probes="):
        select_pattern(df.assign(depth_undetermined=False), "deep but correct")
    with pytest.raises(ValueError, match="different prediction depths"):
        select_pattern(df.assign(depth_undetermined=df["prediction_depth"] >= 5), "deep but correct")
    with pytest.raises(ValueError, match=r"\['human_agreement'\], which hold no values"):
        select_pattern(df.assign(human_agreement=np.nan), "easy for the model, hard for humans")
    with pytest.raises(ValueError, match="'id' column"):
        select_pattern(df.drop(columns=["id"]), "confident but wrong")


def histogram_edges(table: pd.DataFrame, axis: str) -> np.ndarray:
    cells = table.drop_duplicates(f"{axis}_bin").sort_values(f"{axis}_bin")
    return np.append(cells[f"{axis}_lower"].to_numpy(), cells[f"{axis}_upper"].to_numpy()[-1])


@pytest.mark.parametrize("method", ["quantile", "width"])
@pytest.mark.parametrize(("x", "y", "bins"), [("loss", "human_agreement", 5), ("prediction_depth", "aum", 4)])
def test_binned_pair_equals_histogram2d(df, x, y, bins, method):
    table = binned_pair(df, x, y, bins=bins, method=method)
    valid = df[x].notna() & df[y].notna()
    xs, ys = df.loc[valid, x].to_numpy(float), df.loc[valid, y].to_numpy(float)
    levels = np.linspace(0, 1, bins + 1)
    if method == "quantile":
        x_edges, y_edges = np.unique(np.quantile(xs, levels)), np.unique(np.quantile(ys, levels))
    else:
        x_edges, y_edges = np.linspace(xs.min(), xs.max(), bins + 1), np.linspace(ys.min(), ys.max(), bins + 1)
    np.testing.assert_array_equal(histogram_edges(table, "x"), x_edges)
    np.testing.assert_array_equal(histogram_edges(table, "y"), y_edges)
    counts, _, _ = np.histogram2d(xs, ys, bins=[x_edges, y_edges])
    assert len(table) == counts.size
    np.testing.assert_array_equal(table["count"].to_numpy().reshape(counts.shape), counts)
    assert table["count"].sum() == valid.sum()

    x_bin, y_bin = cell_members(df, x, y, bins=bins, method=method)
    assert ((x_bin == -1) == ~valid.to_numpy()).all() and ((y_bin == -1) == ~valid.to_numpy()).all()
    for row in table.itertuples():
        members = (x_bin == row.x_bin) & (y_bin == row.y_bin)
        assert members.sum() == row.count
        inside = df[x][members].between(row.x_lower, row.x_upper) & df[y][members].between(row.y_lower, row.y_upper)
        assert inside.all()


def test_ties_merge_quantile_bins_and_constant_columns(df):
    table = binned_pair(df, "human_agreement", "loss", bins=10)
    assert table["x_bin"].nunique() < 10  # agreement has few distinct values: duplicate edges are dropped
    constant = df.assign(flat=2.0)
    table = binned_pair(constant, "flat", "loss", bins=3, method="width")
    assert table["x_bin"].unique().tolist() == [0]
    assert (table["x_lower"] == 2.0).all() and (table["x_upper"] == 2.0).all()
    assert table["count"].sum() == len(df)


def test_binning_errors(df):
    with pytest.raises(ValueError, match=r"method must be one of \('quantile', 'width'\)"):
        binned_pair(df, "loss", "aum", method="kmeans")
    with pytest.raises(ValueError, match="bins must be a positive integer"):
        binned_pair(df, "loss", "aum", bins=0)
    with pytest.raises(ValueError, match="y='nope' is not a column"):
        cell_members(df, "loss", "nope")
    with pytest.raises(ValueError, match="no row has finite values"):
        binned_pair(df.assign(aum=np.nan), "loss", "aum")


def test_a_quartile_swallowed_by_ties_becomes_a_strict_comparison():
    df = pd.DataFrame({"id": range(8), "correct": [True] * 8, "prediction_depth": [0] * 7 + [3]})
    deep = Pattern("deep", "prediction_depth >= quantile(prediction_depth, 0.75)", "Top.", ("prediction_depth",))
    assert pattern_query(df, deep) == "prediction_depth > 0.0"
    assert select_pattern(df, deep).tolist() == [7]
    agree = pd.DataFrame({"id": range(6), "knn_agreement": [1.0] * 5 + [0.2], "aum": [0.0, 1, 2, 3, -1, -2]})
    low = Pattern("low", "knn_agreement <= quantile(knn_agreement, 0.25)", "Bottom quartile.", ("knn_agreement",))
    assert pattern_query(agree, low) == "knn_agreement < 1.0"  # the bottom quartile is all 1.0
    assert select_pattern(agree, low).tolist() == [5]


def test_pattern_labels_name_the_first_matching_pattern():
    rng = np.random.default_rng(11)
    n = 200
    depth = rng.integers(0, 10, n).astype(float)  # 9 probes, depth 9 undetermined
    df = pd.DataFrame({"id": range(n), "correct": rng.random(n) < 0.7, "confidence": rng.random(n),
                       "prediction_depth": depth, "depth_undetermined": depth == 9})  # fmt: skip
    labels = pattern_labels(df)
    names = available_patterns(df)
    assert names == ["confident but wrong", "deep but correct"] and list(labels.categories) == [*names, "none"]
    wrong = (~df["correct"]) & (df["confidence"] >= 0.9)
    deep = df["correct"] & df["prediction_depth"].isin([6, 7, 8])
    want = np.where(wrong, names[0], np.where(deep, names[1], "none"))
    assert np.asarray(labels).tolist() == want.tolist()
    only = pattern_labels(df, ["deep but correct"])
    assert (np.asarray(only) == "deep but correct").sum() == deep.sum()


def test_label_issues_select_exactly_the_flagged_rows_and_likely_mislabelled_reads_the_flag(df):
    flagged = df["id"][df["label_issue"].fillna(False).to_numpy(dtype=bool)].to_numpy()
    np.testing.assert_array_equal(select_pattern(df, "label issues"), flagged)
    # the same with the flag read back as plain bool / float columns (no NA) or as object
    for column in (
        df["label_issue"].fillna(False).astype(bool),
        df["label_issue"].astype(float),
        df["label_issue"].astype(object),
    ):
        np.testing.assert_array_equal(select_pattern(df.assign(label_issue=column), "label issues"), flagged)
    assert pattern_query(df, "label issues") == "label_issue == True"
    assert "'label issues'" in PATTERNS["likely mislabelled"].description
    labels = pattern_labels(df, ["label issues", "likely mislabelled"])
    assert (np.asarray(labels) == "label issues").sum() == len(flagged)  # the flag wins where both match


def test_confident_but_wrong_keeps_its_level_when_confidences_pile_up_near_one():
    # a trained model: most confidences tied near 1 (the issue's 0.9946 quartile selected 1 image)
    confidence = np.array([0.9946] * 80 + [0.95, 0.93, 0.91, 0.9, 0.89, 0.6, 0.5, 0.99, 0.97, 0.2])
    correct = np.array([True] * 80 + [False, False, False, False, False, False, False, True, True, False])
    df = pd.DataFrame({"id": np.arange(90), "correct": correct, "confidence": confidence})
    assert select_pattern(df, "confident but wrong").tolist() == [80, 81, 82, 83]  # wrong at 0.95, 0.93, 0.91, 0.9
    old = Pattern("old", "correct == False and confidence >= quantile(confidence, 0.75)", "The quartile rule.",
                  ("correct", "confidence"))  # fmt: skip
    assert select_pattern(df, old).tolist() == []  # why the level is fixed: the quartile is 0.9946


def test_deep_but_correct_reads_the_probe_count_from_the_provenance_and_skips_undetermined_rows():
    # 4 probes: decided in the last third means depth >= ceil(8/3) = 3; depth 4 is undetermined
    depth = [0, 1, 2, 3, 3, 4, 4, 2, 3]
    correct = [True, True, True, True, False, True, True, True, True]
    frame = pd.DataFrame({"id": np.arange(9) * 10, "label": 0, "prediction": 0, "correct": correct,
                          "prediction_depth": depth, "depth_undetermined": [d == 4 for d in depth]})  # fmt: skip
    assert select_pattern(frame, "deep but correct").tolist() == [30, 80]
    # without undetermined rows the provenance (or n_probes) says how many probes there were
    settled = frame.assign(depth_undetermined=False, prediction_depth=[0, 1, 2, 3, 3, 2, 1, 2, 3])
    analysis = Analysis.from_dataframe(settled, provenance={"depth_probes": ["a", "b", "c", "d", "e", "f"]})
    assert pattern_query(analysis, "deep but correct").endswith("prediction_depth >= 4")  # ceil(2/3 * 6)
    assert select_pattern(analysis, "deep but correct").tolist() == []
    assert select_pattern(settled, "deep but correct", n_probes=4).tolist() == [30, 80]


def test_likely_mislabelled_falls_back_to_negative_aum_and_disagreeing_neighbours():
    df = pd.DataFrame(
        {
            "id": range(6),
            "aum": [-1.0, -0.5, 0.0, 2.0, -3.0, np.nan],
            "knn_agreement": [0.2, 0.6, 0.1, 0.0, 0.49, 0.0],
        }
    )
    assert pattern_query(df, "likely mislabelled") == "aum < 0 and knn_agreement < 0.5"
    assert select_pattern(df, "likely mislabelled").tolist() == [0, 4]
    assert "AUM < 0" in pattern_description(df, "likely mislabelled")
    flagged = df.assign(label_issue=[False, True, False, False, False, True])
    assert select_pattern(flagged, "likely mislabelled").tolist() == [1, 5]  # the calibrated flag wins
    assert pattern_description(flagged, "likely mislabelled") == PATTERNS["likely mislabelled"].description


def test_patterns_on_a_noisy_training_run_select_what_their_names_say(noisy_fashion_run):
    """On Fashion-MNIST with 5% of the training labels flipped (one 3-epoch run): 'likely mislabelled' is mostly
    flipped labels; its fallback (AUM < 0 and k-NN agreement < 1/2, without the calibrated flag) finds nearly all
    of them at 8x the base rate (measured when written: 6,848 selected, 43% flipped, for 2,974 flips); Cartography's
    hard-to-learn region holds the flips, the easy-to-learn region almost none."""
    from difficulty_widget.measures import knn_label_agreement, label_issue_scores
    from difficulty_widget.measures.dynamics import dynamics_scores

    train, _, flipped, result, head = noisy_fashion_run
    frame = pd.concat(
        [
            label_issue_scores(head, train.labels, logits_per_epoch=result.logits_per_epoch),
            dynamics_scores(result.logits_per_epoch, train.labels),
        ],
        axis=1,
    ).assign(id=np.arange(len(flipped)), knn_agreement=knn_label_agreement(head, train.labels))
    base_rate = flipped.mean()
    likely = pattern_mask(frame, "likely mislabelled")
    assert flipped[likely].mean() > 0.8 and likely.sum() > 0.8 * flipped.sum()
    fallback = pattern_mask(frame.drop(columns=["label_issue"]), "likely mislabelled")
    assert flipped[fallback].mean() > 6 * base_rate and (fallback & flipped).sum() > 0.9 * flipped.sum()
    hard, easy = pattern_mask(frame, "hard to learn"), pattern_mask(frame, "easy to learn")
    assert flipped[hard].mean() > 2 * base_rate and flipped[easy].mean() < 0.1 * base_rate
