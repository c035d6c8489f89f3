"""The measure registry: entries are complete, compute calls each function once, docs are generated from it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import difficulty_widget as dw
from difficulty_widget.measures import BATTERY_COLUMNS, MODEL_SCORE_COLUMNS, Measure, registry

DOCS = Path(__file__).resolve().parents[1] / "docs" / "measures.md"


@pytest.fixture()
def scratch_measure():
    """Register a throw-away measure and remove it afterwards (the registry is global)."""
    calls = []

    def top_two_gap(logits, labels):
        calls.append(1)
        s = np.sort(np.asarray(logits, dtype=float), axis=1)
        return pd.DataFrame({"top_two_gap": s[:, -1] - s[:, -2]})

    measure = Measure(
        name="top_two_gap",
        perspective="model",
        inputs=("logits", "labels"),
        direction="hard = low",
        range="[0, inf)",
        description="test measure",
        reference="none",
        compute=top_two_gap,
    )
    registry.register(measure)
    yield calls
    registry._MEASURES.pop("top_two_gap")


def test_model_measures_are_registered_with_complete_entries():
    model = {m.name: m for m in registry.measures("model") if m.inputs == ("logits", "labels")}
    assert set(model) == (set(MODEL_SCORE_COLUMNS) | set(BATTERY_COLUMNS)) - {"prediction"}
    for m in model.values():
        assert m.inputs == ("logits", "labels") and m.reference and m.description and m.range
    assert model["loss"].direction == "hard = high" and model["margin"].direction == "hard = low"


def test_compute_available_calls_each_function_once_and_skips_what_inputs_do_not_allow(scratch_measure):
    logits = np.array([[3.0, 1.0, 0.0], [0.0, 2.0, 1.5]])
    out = registry.compute_available({"logits": logits, "labels": np.array([0, 2])})
    assert list(out.columns) == [*MODEL_SCORE_COLUMNS, *BATTERY_COLUMNS, "top_two_gap"]
    assert out["top_two_gap"].tolist() == [2.0, 0.5]
    assert len(scratch_measure) == 1
    assert registry.compute_available({"labels": np.array([0])}).empty


def test_a_new_measure_reaches_analyze_without_touching_the_core(scratch_measure, digits):
    import torch

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))
    analysis = dw.analyze(model, digits.subset(np.arange(50)), progress=False)
    assert "top_two_gap" in analysis.df.columns and "top_two_gap" in analysis.score_columns


def test_axis_titles_carry_the_direction():
    assert registry.axis_title("loss") == "loss (harder →)"
    assert registry.axis_title("margin") == "margin (← harder)"
    assert registry.axis_title("not_a_measure") == "not_a_measure"


def test_bad_entries_are_refused():
    with pytest.raises(ValueError, match="direction"):
        Measure("x", "model", ("logits",), "harder", "", "", "", compute=lambda logits: None)
    with pytest.raises(ValueError, match="perspective"):
        Measure("x", "vibes", ("logits",), "hard = high", "", "", "", compute=lambda logits: None)
    with pytest.raises(ValueError, match="already registered"):
        registry.register(Measure("loss", "model", ("logits",), "hard = high", "", "", "", compute=lambda logits: None))
    with pytest.raises(KeyError, match="no measure named"):
        registry.get("nope")
    with pytest.raises(ValueError, match="missing inputs"):
        registry.compute_available({"logits": np.zeros((1, 2))}, names=["loss"])


def test_docs_table_is_generated_from_the_registry():
    table = registry.markdown_table()
    assert table in DOCS.read_text(), "docs/measures.md is stale: regenerate it from registry.markdown_table()"
    for m in registry.measures():
        assert f"`{m.name}`" in table
