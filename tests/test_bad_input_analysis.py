"""Analysis with careless inputs outside its files: add_columns, class names, splits, `correct`, embeddings,
hardest and provenance (issue 18). File cases (paths, damaged metadata, what save writes) are in
test_bad_input_files.py."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from difficulty_widget import Analysis


def base(**columns) -> pd.DataFrame:
    frame = {"id": [10, 11, 12, 13], "label": [0, 1, 0, 1], "prediction": [0, 1, 1, 1], "loss": [0.1, 0.2, 0.3, 0.4]}
    return pd.DataFrame({**frame, **columns})


@pytest.fixture()
def analysis() -> Analysis:
    return Analysis.from_dataframe(base())


# ---------------------------------------------------------------------------------------------------- add_columns
def test_add_columns_matches_a_series_or_a_frame_on_its_index(analysis):
    reordered = pd.Series([1.0, 2.0, 3.0, 4.0], index=[3, 2, 1, 0])  # 4.0 belongs to row 0
    analysis.add_columns({"x": reordered, "in_order": [1, 2, 3, 4], "array": np.array([5, 6, 7, 8])})
    assert analysis.df["x"].tolist() == [4.0, 3.0, 2.0, 1.0]
    assert analysis.df["in_order"].tolist() == [1, 2, 3, 4] and analysis.df["array"].tolist() == [5, 6, 7, 8]
    analysis.add_columns(pd.DataFrame({"y": [1.0, 2.0, 3.0, 4.0]}, index=[3, 2, 1, 0]))
    assert analysis.df["y"].tolist() == [4.0, 3.0, 2.0, 1.0]
    sorted_rows = analysis.df.sort_values("loss", ascending=False)  # a Series taken from the frame itself
    analysis.add_columns({"twice": sorted_rows["loss"] * 2})
    assert analysis.df["twice"].tolist() == [0.2, 0.4, 0.6, 0.8]


@pytest.mark.parametrize(
    "index",
    [["a", "b", "c", "d"], [0, 1, 2, 7], [True, False, True, False], [0.0, 1.0, 2.0, 3.0], [0, 0, 1, 2]],
    ids=["strings", "not the rows", "booleans", "floats", "repeated"],
)
def test_add_columns_refuses_an_index_that_is_not_the_rows(analysis, index):
    with pytest.raises(ValueError, match=r"columns\['w'\] has an index .* not the analysis's rows 0\.\.3"):
        analysis.add_columns({"w": pd.Series([1, 2, 3, 4], index=index)})
    with pytest.raises(ValueError, match=r"columns has an index .* not the analysis's rows 0\.\.3"):
        analysis.add_columns(pd.DataFrame({"w": [1, 2, 3, 4]}, index=index))
    assert "w" not in analysis.df.columns


def test_add_columns_with_an_id_ignores_the_index_and_takes_values_in_id_order(analysis):
    analysis.add_columns(pd.DataFrame({"id": [13, 12, 11, 10], "x": [4, 3, 2, 1]}, index=[9, 8, 7, 6]))
    assert analysis.df["x"].tolist() == [1, 2, 3, 4]
    analysis.add_columns({"id": [13, 12, 11, 10], "y": [4, 3, 2, 1]})
    assert analysis.df["y"].tolist() == [1, 2, 3, 4]
    with pytest.raises(ValueError, match=r"columns\['z'\] is a Series with an index other than 0\.\.3"):
        analysis.add_columns({"id": [13, 12, 11, 10], "z": pd.Series([4, 3, 2, 1], index=[3, 2, 1, 0])})


@pytest.mark.parametrize("overwrite", [0.5, "False", 1, None, np.float64(1.0)])
def test_overwrite_must_be_true_or_false(analysis, overwrite):
    with pytest.raises(TypeError, match="overwrite must be True or False"):
        analysis.add_columns({"loss": [9, 9, 9, 9]}, overwrite=overwrite)
    assert analysis.df["loss"].tolist() == [0.1, 0.2, 0.3, 0.4]


def test_replacing_prediction_recomputes_correct_and_prediction_name():
    analysis = Analysis.from_dataframe(base(), class_names=["cat", "dog"])
    analysis.add_columns({"prediction": [1, 0, 0, 0]}, overwrite=True)
    assert analysis.df["correct"].tolist() == [False, False, True, False]
    assert analysis.df["prediction_name"].tolist() == ["dog", "cat", "cat", "cat"]
    analysis.add_columns({"prediction": [0, 1, 0, 1], "correct": [False] * 4}, overwrite=True)  # given: kept
    assert analysis.df["correct"].tolist() == [False] * 4
    fresh = Analysis.from_dataframe(base().drop(columns="prediction"))
    fresh.add_columns({"prediction": [1, 1, 1, 1]})  # new predictions get a `correct` as in from_dataframe
    assert fresh.df["correct"].tolist() == [False, True, False, True]


def test_a_correct_column_without_predictions_is_not_replaced_silently():
    analysis = Analysis.from_dataframe(base(correct=[True, True, False, False]).drop(columns="prediction"))
    with pytest.raises(ValueError, match=r"\['correct'\] already exist \('correct' is recomputed"):
        analysis.add_columns({"prediction": [0, 1, 0, 1]})
    assert analysis.df["correct"].tolist() == [True, True, False, False]


@pytest.mark.parametrize("column", ["label", "split", "label_name", "prediction_name"])  # an `id` matches rows
def test_the_analysis_own_columns_point_to_from_dataframe(analysis, column):
    with pytest.raises(ValueError, match=rf"\['{column}'\] are the analysis's own .* Analysis\.from_dataframe"):
        analysis.add_columns({column: [0, 0, 0, 0]}, overwrite=True)


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        (5, r"columns must be a DataFrame or a mapping of column names to values .* got int"),
        ("loss", r"columns must be a DataFrame or a mapping .* got str"),
        (pd.Series([1, 2, 3, 4], name="s"), r"columns must be a DataFrame or a mapping .* got Series"),
        (pd.DataFrame([[1, 2]] * 4, columns=["x", "x"]), r"columns has duplicate column names: \['x'\]"),
        ({"x": 5}, r"columns\['x'\] must hold one value per instance .* got int"),
        ({"x": "abcd"}, r"columns\['x'\] must hold one value per instance .* got str"),
        ({"x": {0: 1, 1: 2, 2: 3, 3: 4}}, r"columns\['x'\] must hold one value per instance .* got dict"),
        ({"x": np.zeros((4, 2))}, r"columns\['x'\] must be one-dimensional .* shape \(4, 2\)"),
        ({"x": pd.DataFrame({"a": [1, 2, 3, 4]})}, r"columns\['x'\] is a DataFrame"),
        ({"x": [1, 2, 3, 4], "y": [1, 2]}, r"columns has values of the wrong length \{'y': 2\}"),
        ({"x": pd.Series([1.0, 2.0])}, r"columns has values of the wrong length \{'x': 2\}"),
    ],
)
def test_add_columns_refuses_what_is_not_one_value_per_instance(analysis, columns, message):
    before = analysis.df.copy()
    with pytest.raises(ValueError, match=message):
        analysis.add_columns(columns)
    pd.testing.assert_frame_equal(analysis.df, before)


# ---------------------------------------------------------------------------------------------- names and splits
@pytest.mark.parametrize(
    ("class_names", "message"),
    [
        ([b"cat", b"dog"], r"class_names\[0\] must be a string, got bytes"),
        (["cat", 1], r"class_names\[1\] must be a string, got int"),
        ([1, "1"], r"class_names\[0\] must be a string"),
        (np.array([0, 1]), r"class_names\[0\] must be a string"),
    ],
)
def test_class_names_must_be_strings(class_names, message):
    with pytest.raises(TypeError, match=message):
        Analysis.from_dataframe(base(), class_names=class_names)


def test_class_names_from_numpy_strings_are_python_strings():
    analysis = Analysis.from_dataframe(base(), class_names=np.array(["cat", "dog"]))
    assert analysis.class_names == ["cat", "dog"] and all(type(n) is str for n in analysis.class_names)


def test_label_names_must_be_strings():
    with pytest.raises(TypeError, match=r"df\['label_name'\] must hold strings .* got bytes"):
        Analysis.from_dataframe(base(label_name=[b"cat", b"dog", b"cat", b"dog"]))


def test_wnids_must_be_strings():
    with pytest.raises(TypeError, match=r"wnids\[0\] must be a string, got bytes"):
        Analysis.from_dataframe(base(), class_names=["a", "b"], wnids=[b"n1", b"n2"])


@pytest.mark.parametrize(
    "split",
    [
        ["train", np.nan, "test", None],
        pd.Categorical(["train", None, "test", "test"]),
        pd.array(["train", None, "test", "test"], dtype="string"),
    ],
    ids=["object", "categorical", "string"],
)
def test_split_with_missing_values_is_refused(split):
    with pytest.raises(ValueError, match=r"df\['split'\] has \d missing value\(s\) \(rows \[1"):
        Analysis.from_dataframe(base(split=split))


@pytest.mark.parametrize(
    "split",
    [[b"train", b"test", b"train", b"test"], [0.5, 1.5, 0.5, 1.5], pd.to_datetime(["2020-01-01"] * 4)],
    ids=["bytes", "floats", "datetimes"],
)
def test_split_values_must_be_names(split):
    with pytest.raises(ValueError, match=r"df\['split'\] must hold split names"):
        Analysis.from_dataframe(base(split=split))


def test_integer_and_string_splits_still_work():
    assert list(Analysis.from_dataframe(base(split=[0, 1, 0, 1])).df["split"].cat.categories) == ["0", "1"]
    split = pd.Categorical(["train", "test", "train", "test"])
    assert list(Analysis.from_dataframe(base(split=split)).df["split"].cat.categories) == ["test", "train"]


# ------------------------------------------------------------------------------------------------------ correct
@pytest.mark.parametrize(
    "correct",
    [
        ["yes", "no", "no", "yes"],
        [0.0, 1.0, 1.0, 0.0],
        [0, 2, 1, 0],
        pd.Series([True, None, False, True], dtype=object),
    ],
    ids=["strings", "floats", "integers other than 0 and 1", "object"],
)
def test_a_correct_column_must_be_boolean(correct):
    with pytest.raises(ValueError, match=r"df\['correct'\] must be boolean .* or integer 0/1"):
        Analysis.from_dataframe(base(correct=correct))


def test_a_correct_column_of_0_and_1_becomes_boolean_and_nullable_boolean_is_kept():
    analysis = Analysis.from_dataframe(base(correct=[1, 0, 0, 1]))
    assert analysis.df["correct"].dtype == bool and analysis.df["correct"].tolist() == [True, False, False, True]
    assert analysis.per_class_accuracy()["accuracy"].tolist() == [0.5, 0.5]
    nullable = Analysis.from_dataframe(base(correct=pd.array([True, None, False, True], dtype="boolean")))
    assert str(nullable.df["correct"].dtype) == "boolean"
    assert nullable.per_class_accuracy()["accuracy"].tolist() == [0.5, 1.0]


def test_per_class_accuracy_refuses_a_correct_column_changed_in_place(analysis):
    analysis.df["correct"] = ["yes", "no", "no", "yes"]
    with pytest.raises(ValueError, match=r"analysis\.df\['correct'\] must be boolean"):
        analysis.per_class_accuracy()


# --------------------------------------------------------------------------------------------------- embeddings
@pytest.mark.parametrize(
    ("embeddings", "error", "message"),
    [
        ({"p": np.array([["a", "b"]] * 4, dtype=object)}, TypeError, r"embeddings\['p'\] must hold real numbers"),
        ({"p": np.array([["a", "b"]] * 4)}, TypeError, r"embeddings\['p'\] must hold real numbers, got dtype <U1"),
        ({"p": np.ones((4, 2), dtype=complex)}, TypeError, r"embeddings\['p'\] must hold real numbers"),
        ({"p": np.ones((4, 2), dtype=bool)}, TypeError, r"embeddings\['p'\] must hold real numbers"),
        (
            {"p": np.full((4, 2), np.nan)},
            ValueError,
            r"embeddings\['p'\] contains NaN or infinite values \(first in row 0",
        ),
        (
            {"p": np.array([[0, 1], [2, 3], [4, np.inf], [5, 6]])},
            ValueError,
            r"NaN or infinite values \(first in row 2",
        ),
        ({"p": np.zeros((3, 2))}, ValueError, r"embeddings\['p'\] must be an \(N, d\) array .* shape \(3, 2\)"),
        ({1: np.zeros((4, 2)), "1": np.ones((4, 2))}, TypeError, r"embeddings names must be strings, got int 1"),
        ({("a",): np.zeros((4, 2))}, TypeError, r"embeddings names must be strings, got tuple"),
    ],
)
def test_embeddings_are_checked(analysis, embeddings, error, message):
    with pytest.raises(error, match=message):
        analysis.embeddings = embeddings
    with pytest.raises(error, match=message):
        Analysis(analysis.df, analysis.class_names, embeddings=embeddings)
    assert analysis.embeddings == {}


def test_embeddings_are_kept_as_given(analysis):
    features = np.arange(8, dtype=np.float32).reshape(4, 2)
    analysis.embeddings = {"penultimate": features, "ints": np.ones((4, 3), dtype=np.int64)}
    assert analysis.embeddings["penultimate"] is features and analysis.embeddings["ints"].dtype == np.int64


# ------------------------------------------------------------------------------------------------------ hardest
@pytest.mark.parametrize(
    ("measure", "error", "message"),
    [
        ("nope", ValueError, r"measure 'nope' is not a registered measure; this analysis has \['loss', 'correct'\]"),
        ("Loss", ValueError, r"measure 'Loss' is not a registered measure.*'aum'"),
        (5, TypeError, r"measure must be the name of a registered measure \(a str\), got int"),
        (["loss"], TypeError, r"measure must be the name of a registered measure \(a str\), got list"),
    ],
)
def test_hardest_names_the_measure(analysis, measure, error, message):
    with pytest.raises(error, match=message):
        analysis.hardest(measure)


def test_hardest_checks_n_and_split(analysis):
    with pytest.raises(ValueError, match="n must be a non-negative integer, got True"):
        analysis.hardest("loss", n=True)
    with pytest.raises(ValueError, match=r"split must be None or one of the analysis's splits \['all'\], got 0"):
        analysis.hardest("loss", split=0)
    assert analysis.hardest("loss", n=np.int64(2))["loss"].tolist() == [0.4, 0.3]


# --------------------------------------------------------------------------------------------------- provenance
def test_numpy_strings_in_provenance_become_python_strings():
    analysis = Analysis.from_dataframe(base(), provenance={"d": np.str_("x"), np.str_("key"): [np.str_("y")]})
    assert type(analysis.provenance["d"]) is str and type(analysis.provenance["key"][0]) is str
    assert all(type(k) is str for k in analysis.provenance)
    assert repr(analysis.provenance) == repr(
        {"d": "x", "key": ["y"], "library_version": analysis.provenance["library_version"]}
    )
