"""analyze(): a model and data in, an Analysis out, equal to scoring the extracted logits directly."""

from __future__ import annotations

import numpy as np
import pandas as pd

import difficulty_widget as dw
from difficulty_widget.extract import extract, make_model
from difficulty_widget.measures import MODEL_SCORE_COLUMNS, model_scores


def test_analyze_equals_model_scores_of_the_extracted_logits(digits):
    data = digits.subset(np.arange(0, 1797, 3))
    model = make_model("cnn", 10, (8, 8), seed=1)
    analysis = dw.analyze(model, data, model_name="cnn-seed1", provenance={"seed": 1}, progress=False)
    ext = extract(model, data, progress=False)
    expected = model_scores(ext.logits, ext.labels)
    pd.testing.assert_frame_equal(analysis.df[list(MODEL_SCORE_COLUMNS)], expected)
    np.testing.assert_array_equal(analysis.df["id"], data.ids)
    assert analysis.provenance["model"] == "cnn-seed1" and analysis.provenance["dataset"] == "digits"
    assert analysis.class_names == digits.class_names


def test_analyze_a_torchvision_image_folder(tmp_path):
    from PIL import Image
    from torchvision import datasets, transforms

    rng = np.random.default_rng(0)
    for cls in ("bird", "cat"):
        (tmp_path / cls).mkdir()
        for i in range(6):
            Image.fromarray(rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)).save(tmp_path / cls / f"{i}.png")
    folder = datasets.ImageFolder(str(tmp_path), transform=transforms.ToTensor())
    model = make_model("mlp", 2, (12, 12, 3), seed=0)
    analysis = dw.analyze(model, folder, progress=False)
    assert analysis.class_names == ["bird", "cat"] and len(analysis) == 12
    assert analysis.df["label"].tolist() == [0] * 6 + [1] * 6
    ext = extract(model, folder, batch_size=5, progress=False)
    pd.testing.assert_frame_equal(analysis.df[list(MODEL_SCORE_COLUMNS)], model_scores(ext.logits, ext.labels))
