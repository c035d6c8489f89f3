"""Difficulty patterns against hand-written pandas masks; the binned heatmap against numpy.histogram2d."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from difficulty_widget import Analysis
from difficulty_widget.measures import registry
from difficulty_widget.patterns import (
    PATTERNS,
    Pattern,
    available_patterns,
    binned_pair,
    cell_members,
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
    frame = pd.DataFrame(
        {
            "id": rng.permutation(np.arange(10_000, 10_000 + n)),
            "label": rng.integers(0, 4, n),
            "loss": rng.exponential(1.0, n),
            "confidence": rng.uniform(0.25, 1.0, n),
            "correct": rng.random(n) < 0.7,
            "prediction_depth": rng.integers(0, 7, n),
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
    return frame


def q(df: pd.DataFrame, column: str, p: float) -> float:
    return float(np.nanquantile(df[column].to_numpy(dtype=float), p))


def expected_masks(df: pd.DataFrame) -> dict[str, pd.Series]:
    return {
        "hard for the model, easy for humans": (df["loss"] >= q(df, "loss", 0.75))
        & (df["human_agreement"] >= q(df, "human_agreement", 0.75)),
        "easy for the model, hard for humans": (df["loss"] <= q(df, "loss", 0.25))
        & (df["human_agreement"] <= q(df, "human_agreement", 0.25)),
        "confident but wrong": ~df["correct"] & (df["confidence"] >= q(df, "confidence", 0.75)),
        "deep but correct": df["correct"] & (df["prediction_depth"] >= q(df, "prediction_depth", 0.75)),
        "label issues": df["label_issue"].fillna(False).astype(bool),
        "likely mislabelled": (df["knn_agreement"] <= q(df, "knn_agreement", 0.25)) & (df["aum"] <= q(df, "aum", 0.25)),
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
    query = pattern_query(df, "confident but wrong")
    assert query == f"correct == False and confidence >= {q(df, 'confidence', 0.75)!r}"
    for name in PATTERNS:
        text = pattern_query(df, name)
        assert "quantile" not in text
        np.testing.assert_array_equal(df.query(text)["id"].to_numpy(), select_pattern(df, name))


def test_needs_are_registered_measures_used_by_the_query():
    known = {m.name for m in registry.measures()}
    for pattern in PATTERNS.values():
        assert set(pattern.needs) <= known, pattern.name
        assert all(column in pattern.query for column in pattern.needs), pattern.name


def test_analysis_and_custom_patterns(df):
    analysis = Analysis.from_dataframe(df)
    np.testing.assert_array_equal(select_pattern(analysis, "deep but correct"), select_pattern(df, "deep but correct"))
    low_loss = Pattern("low loss", "loss < quantile(loss, 0.1)", "The easiest tenth.", ("loss",))
    np.testing.assert_array_equal(select_pattern(df, low_loss), df["id"][df["loss"] < q(df, "loss", 0.1)])


def test_available_patterns(df):
    assert available_patterns(df) == list(PATTERNS)
    partial = df.drop(columns=["aum"]).assign(human_agreement=np.nan)
    flags = ["leaked", "outliers", "conflicting duplicates"]
    assert available_patterns(partial) == ["confident but wrong", "deep but correct", "label issues", *flags]
    assert "label issues" not in available_patterns(df.assign(label_issue=pd.NA))  # no training rows flagged
    assert "leaked" not in available_patterns(df.assign(leaked=pd.NA))  # no test rows


def test_unknown_and_missing_errors(df):
    with pytest.raises(ValueError, match=r"unknown pattern 'hard'; valid names: \['hard for the model"):
        select_pattern(df, "hard")
    with pytest.raises(ValueError, match=r"needs the columns \['knn_agreement', 'aum'\]"):
        select_pattern(df.drop(columns=["knn_agreement", "aum"]), "likely mislabelled")
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
    query = pattern_query(df, "deep but correct")
    assert "prediction_depth > 0.0" in query
    assert select_pattern(df, "deep but correct").tolist() == [7]
    agree = pd.DataFrame({"id": range(6), "knn_agreement": [1.0] * 5 + [0.2], "aum": [0.0, 1, 2, 3, -1, -2]})
    assert "knn_agreement < 1.0" in pattern_query(agree, "likely mislabelled")  # the bottom quartile is all 1.0
    assert select_pattern(agree, "likely mislabelled").tolist() == [5]


def test_pattern_labels_name_the_first_matching_pattern():
    rng = np.random.default_rng(11)
    n = 200
    df = pd.DataFrame({"id": range(n), "correct": rng.random(n) < 0.7, "confidence": rng.random(n),
                       "prediction_depth": rng.integers(0, 6, n).astype(float)})  # fmt: skip
    labels = pattern_labels(df)
    names = available_patterns(df)
    assert names == ["confident but wrong", "deep but correct"] and list(labels.categories) == [*names, "none"]
    wrong = (~df["correct"]) & (df["confidence"] >= np.quantile(df["confidence"], 0.75))
    deep = df["correct"] & (df["prediction_depth"] >= np.quantile(df["prediction_depth"], 0.75))
    want = np.where(wrong, names[0], np.where(deep, names[1], "none"))
    assert np.asarray(labels).tolist() == want.tolist()
    only = pattern_labels(df, ["deep but correct"])
    assert (np.asarray(only) == "deep but correct").sum() == deep.sum()


def test_label_issues_select_exactly_the_flagged_rows_and_the_quartile_rule_points_to_them(df):
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
