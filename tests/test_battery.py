"""The standard battery (EL2N, GraNd, cleanlab's scores, mistakenness, Toneva's forgetting statistics, Data-IQ)
against independent per-row Python references, per-sample autograd, and the registry's analysis columns."""

from __future__ import annotations

import itertools
import math
import statistics

import numpy as np
import pandas as pd
import pytest
import torch

from difficulty_widget.extract import Extraction
from difficulty_widget.measures import (
    BATTERY_COLUMNS,
    confidence_weighted_entropy,
    data_iq,
    el2n,
    el2n_early,
    first_forgotten,
    first_learned,
    forgetting_events,
    grand_full,
    grand_last_layer,
    mean_loss,
    mistakenness,
    normalized_margin,
    unforgettable,
)
from difficulty_widget.measures.dynamics import default_early_epochs
from difficulty_widget.measures.model import battery_scores
from difficulty_widget.pipeline.scoring import analysis_from_extraction


def softmax_row(z: list[float]) -> list[float]:
    top = max(z)
    weights = [math.exp(v - top) for v in z]
    total = math.fsum(weights)
    return [w / total for w in weights]


def reference_row(z: list[float], y: int) -> dict[str, float]:
    """Each definition written out for one row, with Python floats."""
    p = softmax_row(z)
    c = len(p)
    top, total = max(z), math.fsum(math.exp(v - max(z)) for v in z)
    log_p = [(v - top) - math.log(total) for v in z]  # log q_k without rounding q_k near 1 first
    prediction = z.index(max(z))  # first maximum
    others = [p[k] for k in range(c) if k != y]
    entropy = -math.fsum(q * lq for q, lq in zip(p, log_p, strict=True))
    # cleanlab 2.x, rank.py: (self_confidence - max_prob_not_label + 1) / 2
    margin = (p[y] - max(others) + 1) / 2
    # cleanlab 2.x, rank.py: s = normalized entropy / clip(p_y, 1e-6); log(s + 1) / clip(s, 1e-6) (log1p here: s + 1
    # rounds away the digits of a tiny s)
    s = (entropy / math.log(c)) / max(p[y], 1e-6)
    cwe = math.log1p(s) / max(s, 1e-6)
    # fiftyone-brain, mistakenness.py: m = -1 if correct else 1; (m * confidence + 1) / 2 (or exp(-entropy))
    m = -1.0 if prediction == y else 1.0
    return {
        "el2n": math.sqrt(math.fsum((p[k] - (k == y)) ** 2 for k in range(c))),
        "normalized_margin": margin,
        "confidence_weighted_entropy": cwe,
        "mistakenness": (m * max(p) + 1) / 2,
        "mistakenness_logits": (m * math.exp(-entropy) + 1) / 2,
    }


def random_logits(seed: int, n: int = 300, c: int = 6) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=3.0, size=(n, c))
    labels = rng.integers(0, c, n)
    logits[:4] = 0.0  # ties: the prediction is class 0
    logits[4, labels[4]] = 12.0  # confident and right
    logits[5, (labels[5] + 1) % c] = 12.0  # confident and wrong
    logits[6] = 0.0
    logits[6, labels[6]] = 30.0  # near certain: cleanlab's weighted entropy s falls below its 1e-6 clip
    return logits, labels


def test_battery_matches_per_row_references():
    logits, labels = random_logits(0)
    want = pd.DataFrame([reference_row(list(map(float, z)), int(y)) for z, y in zip(logits, labels, strict=True)])
    got = battery_scores(logits, labels)
    assert list(got.columns) == list(BATTERY_COLUMNS)
    precise = np.arange(len(labels)) != 6
    for column in BATTERY_COLUMNS:
        np.testing.assert_allclose(got[column][precise], want[column][precise], rtol=1e-10, atol=1e-13, err_msg=column)
    # row 6 has p_y = 1 - 5e-13: float64 knows p_y and log p_y to ~1e-16, its entropy (~1e-11) to ~1e-5 relative
    np.testing.assert_allclose(got.loc[6], want.loc[6, list(BATTERY_COLUMNS)], rtol=1e-4, atol=1e-15)
    for function in (el2n, normalized_margin, confidence_weighted_entropy, mistakenness):
        np.testing.assert_array_equal(function(logits, labels), got[function.__name__])
    np.testing.assert_allclose(
        mistakenness(logits, labels, use_logits=True)[precise], want["mistakenness_logits"][precise], rtol=1e-10
    )
    assert mistakenness(logits, labels)[5] > 0.99 and mistakenness(logits, labels)[4] < 0.01
    assert got["confidence_weighted_entropy"][6] < 1e-3  # cleanlab's clip: near-certain rows score near 0


def test_el2n_keeps_its_digits_on_near_certain_rows():
    logits = np.array([[40.0, 0.0, 0.0], [0.0, 0.0, 1e4]])
    got = el2n(logits, np.array([0, 0]))
    tail = 2 * math.exp(-40.0) / (1 + 2 * math.exp(-40.0))  # 1 - p_y, summed over the other classes
    assert got[0] == pytest.approx(math.sqrt(tail**2 + 2 * (tail / 2) ** 2), rel=1e-12)  # not 0 from 1 - p_y
    assert got[1] == pytest.approx(math.sqrt(2.0))


def test_scores_equal_cleanlab_when_it_is_installed():
    rank = pytest.importorskip("cleanlab.rank")
    logits, labels = random_logits(1, c=4)
    labels[:4] = np.arange(4)  # cleanlab wants every class present
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    for ours in (normalized_margin, confidence_weighted_entropy):
        want = rank.get_label_quality_scores(labels, p, method=ours.__name__)
        np.testing.assert_allclose(ours(logits, labels), want, rtol=1e-9, atol=1e-9, err_msg=ours.__name__)


# ---------------------------------------------------------------- Toneva et al.: forgetting statistics

# rows: epochs; columns: learned late, learned-forgotten-relearned, never learned, always right, forgotten at the
# end, forgotten twice
CORRECT = np.array(
    [
        [0, 0, 0, 1, 1, 1],
        [0, 1, 0, 1, 1, 0],
        [1, 0, 0, 1, 1, 1],
        [1, 1, 0, 1, 0, 0],
    ],
    dtype=bool,
)


def test_forgetting_statistics_on_hand_built_sequences():
    assert first_learned(CORRECT).tolist() == [2, 1, 4, 0, 0, 0]
    assert first_forgotten(CORRECT).tolist() == [4, 2, 0, 4, 3, 1]
    assert unforgettable(CORRECT).tolist() == [True, False, False, True, False, False]
    counts, never = forgetting_events(CORRECT)
    assert counts.tolist() == [0, 1, 0, 0, 1, 2] and never.tolist() == [False, False, True, False, False, False]
    ranked, _ = forgetting_events(CORRECT, rank_never_learned=True)
    assert ranked.tolist() == [0, 1, 4, 0, 1, 2]  # never learned: above every count, as Toneva et al. rank it


def test_forgetting_statistics_against_per_element_loops():
    rng = np.random.default_rng(2)
    correct = rng.random((7, 200)) < 0.6
    correct[:, :5] = False  # some never learned
    got_first, got_forgot = first_learned(correct), first_forgotten(correct)
    got_unforgettable, (got_ranked, _) = unforgettable(correct), forgetting_events(correct, rank_never_learned=True)
    for i in range(200):
        seq = correct[:, i].tolist()
        learned = any(seq)
        events = [e for e in range(1, 7) if seq[e - 1] and not seq[e]]
        assert got_first[i] == next((e for e, ok in enumerate(seq) if ok), 7)
        assert got_forgot[i] == ((events[0] if events else 7) if learned else 0)
        assert got_unforgettable[i] == (learned and not events)
        assert got_ranked[i] == (sum(1 for a, b in itertools.pairwise(seq) if a and not b) if learned else 7)


# ---------------------------------------------------------------- per-epoch: mean loss, early EL2N, Data-IQ


def per_epoch_logits(seed: int, epochs: int = 12, n: int = 80, c: int = 4) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, c, n)
    ramp = np.linspace(-1, 4, epochs)[:, None, None] * rng.random(n)[None, :, None]
    logits = rng.normal(size=(epochs, n, c)) + ramp * (np.arange(c)[None, None, :] == labels[None, :, None])
    logits[:, 0, labels[0]] = -10.0  # never learned
    logits[:, 1, labels[1]] = 10.0  # always right and sure
    return logits, labels


def test_default_early_epochs_is_the_first_tenth_at_least_one():
    assert [default_early_epochs(e) for e in (2, 9, 10, 11, 20, 200)] == [1, 1, 1, 2, 2, 20]


def test_mean_loss_early_el2n_and_data_iq_against_per_row_loops():
    logits, labels = per_epoch_logits(3)
    epochs, n, _ = logits.shape
    loss, early, early3 = (
        mean_loss(logits, labels),
        el2n_early(logits, labels),
        el2n_early(logits, labels, early_epochs=3),
    )
    iq = data_iq(logits, labels)
    aleatoric = []
    for i in range(n):
        p = [softmax_row(list(map(float, logits[e, i]))) for e in range(epochs)]
        y = int(labels[i])
        losses = [-math.log(q[y]) for q in p]
        norms = [math.sqrt(math.fsum((q[k] - (k == y)) ** 2 for k in range(len(q)))) for q in p]
        assert loss[i] == pytest.approx(sum(losses) / epochs, rel=1e-10)
        assert early[i] == pytest.approx((norms[0] + norms[1]) / 2, rel=1e-10)  # ceil(12 / 10) = 2 epochs
        assert early3[i] == pytest.approx(sum(norms[:3]) / 3, rel=1e-10)
        py = [q[y] for q in p]
        conf = sum(py) / epochs
        assert iq["diq_confidence"][i] == pytest.approx(conf, rel=1e-10)
        aleatoric.append(sum(v * (1 - v) for v in py) / epochs)
        assert iq["diq_aleatoric"][i] == pytest.approx(aleatoric[-1], rel=1e-9, abs=1e-15)
        assert iq["diq_epistemic"][i] == pytest.approx(sum((v - conf) ** 2 for v in py) / epochs, rel=1e-8, abs=1e-15)
    median = statistics.median(aleatoric)
    for i in range(n):
        conf, low_al = iq["diq_confidence"][i], aleatoric[i] <= median
        region = "easy" if conf >= 0.75 and low_al else ("hard" if conf <= 0.25 and low_al else "ambiguous")
        assert iq["diq_region"][i] == region, i
    assert iq["diq_region"][0] == "hard" and iq["diq_region"][1] == "easy"
    assert set(iq["diq_region"]) == {"easy", "ambiguous", "hard"}


def test_data_iq_regions_need_low_aleatoric_uncertainty():
    # two classes: z = (0, logit p) gives p_y = p for label 1
    sequences = [
        [0.99] * 4,  # easy
        [0.01] * 4,  # hard
        [0.9, 0.9, 0.5, 0.9],  # confident on average, but aleatoric above the median: ambiguous
        [0.1, 0.1, 0.5, 0.1],  # unconfident on average, aleatoric above the median: ambiguous
        [0.5] * 4,  # ambiguous
        [0.98] * 4,  # easy
        [0.02] * 4,  # hard
    ]
    p = np.array(sequences).T
    logits = np.stack([np.zeros_like(p), np.log(p / (1 - p))], axis=2)
    iq = data_iq(logits, np.ones(len(sequences), dtype=int))
    np.testing.assert_allclose(iq["diq_confidence"], p.mean(axis=0), rtol=1e-12)
    want = ["easy", "hard", "ambiguous", "ambiguous", "ambiguous", "easy", "hard"]
    assert iq["diq_region"].astype(str).tolist() == want
    assert list(iq["diq_region"].cat.categories) == ["easy", "ambiguous", "hard"] and iq["diq_region"].cat.ordered


def test_early_el2n_default_averages_the_first_tenth():
    logits, labels = per_epoch_logits(4, epochs=12)
    first_two = (el2n(logits[0], labels) + el2n(logits[1], labels)) / 2
    np.testing.assert_allclose(el2n_early(logits, labels), first_two, rtol=1e-12)
    every = el2n(logits.reshape(-1, 4), np.tile(labels, 12)).reshape(12, -1).mean(axis=0)
    np.testing.assert_allclose(el2n_early(logits, labels, early_epochs=12), every, rtol=1e-12)


def test_mean_loss_is_finite_where_the_probability_underflows():
    logits = np.zeros((2, 1, 3))
    logits[:, 0, 0] = -1e4
    assert mean_loss(logits, np.array([0]))[0] == pytest.approx(1e4 + math.log(2), rel=1e-12)


# ---------------------------------------------------------------- GraNd


def per_sample_gradient_norms(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> list[float]:
    """One backward pass per instance; the norm over every parameter that requires a gradient."""
    norms = []
    for i in range(len(x)):
        model.zero_grad()
        torch.nn.functional.cross_entropy(model(x[i : i + 1]), y[i : i + 1]).backward()
        squares = [float((p.grad.double() ** 2).sum()) for p in model.parameters() if p.requires_grad]
        norms.append(math.sqrt(math.fsum(squares)))
    return norms


@pytest.mark.parametrize("bias", [True, False])
def test_grand_last_layer_equals_autograd_on_a_linear_head(bias):
    torch.manual_seed(0)
    head = torch.nn.Linear(9, 5, bias=bias).double()
    h = torch.randn(40, 9, dtype=torch.float64) * 2
    y = torch.randint(0, 5, (40,))
    with torch.no_grad():
        z = head(h)
    got = grand_last_layer(z.numpy(), h.numpy(), y.numpy(), bias=bias)
    np.testing.assert_allclose(got, per_sample_gradient_norms(head, h, y), rtol=1e-10)
    np.testing.assert_allclose(got, grand_full(head, h, y, batch_size=7, device="cpu"), rtol=1e-10)


class TinyCNN(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 4, 3)
        self.norm = torch.nn.BatchNorm2d(4)
        self.frozen = torch.nn.Conv2d(4, 4, 1)
        self.head = torch.nn.Linear(4, 3)
        for p in self.frozen.parameters():
            p.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.norm(self.conv(x)))
        return self.head(self.frozen(x).mean(dim=(2, 3)))


def test_grand_full_equals_a_per_sample_autograd_loop_over_every_parameter():
    torch.manual_seed(1)
    model = TinyCNN().double()
    model.train()
    model.norm.running_mean.uniform_(-0.5, 0.5)  # buffers matter: eval mode uses the running statistics
    model.norm.running_var.uniform_(0.5, 2.0)
    x = torch.randn(11, 1, 6, 6, dtype=torch.float64)
    y = torch.randint(0, 3, (11,))
    got = grand_full(model, x, y, batch_size=4, device="cpu")
    assert model.training and model.norm.training  # modes restored
    model.eval()
    np.testing.assert_allclose(got, per_sample_gradient_norms(model, x, y), rtol=1e-9)
    assert got.dtype == np.float64 and got.shape == (11,)


def test_grand_full_on_the_accelerator_matches_the_cpu():
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    torch.manual_seed(2)
    model = TinyCNN()
    x, y = torch.randn(64, 1, 8, 8), torch.randint(0, 3, (64,))
    np.testing.assert_allclose(
        grand_full(model, x, y, device="cuda"), grand_full(model, x, y, device="cpu"), rtol=1e-4, atol=1e-6
    )
    assert next(model.parameters()).device.type == "cpu"  # the model went back


def test_bad_inputs_name_the_argument():
    logits, labels = random_logits(5, n=8, c=3)
    with pytest.raises(ValueError, match="features must have shape"):
        grand_last_layer(logits, np.zeros((5, 2)), labels)
    with pytest.raises(ValueError, match="features contains NaN"):
        grand_last_layer(logits, np.full((8, 2), np.nan), labels)
    with pytest.raises(ValueError, match="early_epochs"):
        el2n_early(np.zeros((3, 4, 2)), np.zeros(4, int), early_epochs=4)
    with pytest.raises(ValueError, match="confidence_thresholds"):
        data_iq(np.zeros((3, 4, 2)), np.zeros(4, int), confidence_thresholds=(0.8, 0.2))
    with pytest.raises(ValueError, match="floating-point"):
        grand_full(torch.nn.Linear(4, 2), np.zeros((3, 4), dtype=np.uint8), np.zeros(3, int))
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 2\)"):
        grand_full(torch.nn.Linear(4, 2), torch.zeros(3, 4), np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="labels has length"):
        mistakenness(logits, labels[:3])


# ---------------------------------------------------------------- the registry: columns in an analysis


def extraction(seed: int, n: int = 30, c: int = 3, dim: int = 5) -> Extraction:
    rng = np.random.default_rng(seed)
    head = rng.normal(size=(dim, c))
    features = rng.normal(size=(n, dim)).astype(np.float32)
    logits = (features @ head + 0.1).astype(np.float32)
    labels = rng.integers(0, c, n)
    return Extraction(logits, labels, logits.argmax(axis=1), probes={"penultimate": features})


def test_registry_fills_the_battery_columns_when_their_inputs_exist():
    ext = extraction(6)
    bare = analysis_from_extraction(ext).df
    assert set(BATTERY_COLUMNS) <= set(bare.columns)
    pd.testing.assert_frame_equal(bare[list(BATTERY_COLUMNS)], battery_scores(ext.logits, ext.labels))
    later = ["grand_last_layer", "mean_loss", "el2n_early", "first_learned", "first_forgotten", "unforgettable",
             "diq_aleatoric", "diq_region"]  # fmt: skip
    assert not set(later) & set(bare.columns)

    rng = np.random.default_rng(7)
    support = np.arange(30) < 20
    per_epoch = rng.normal(size=(12, 20, 3))  # the early EL2N averages 2 epochs
    per_epoch[:, 0, ext.labels[0]] = -9.0  # never learned
    full = analysis_from_extraction(ext, features_probe="penultimate", support_mask=support, logits_per_epoch=per_epoch)
    df = full.df
    assert set(later) <= set(full.score_columns)
    np.testing.assert_allclose(
        df["grand_last_layer"], grand_last_layer(ext.logits, ext.probes["penultimate"], ext.labels)
    )
    train = df[support].reset_index(drop=True)
    y = ext.labels[support]
    np.testing.assert_allclose(train["mean_loss"], mean_loss(per_epoch, y))
    np.testing.assert_allclose(train["el2n_early"], el2n_early(per_epoch, y))
    np.testing.assert_allclose(train["diq_aleatoric"], data_iq(per_epoch, y)["diq_aleatoric"])
    correct = per_epoch.argmax(axis=2) == y[None, :]
    np.testing.assert_array_equal(train["first_learned"], first_learned(correct))
    np.testing.assert_array_equal(train["first_forgotten"], first_forgotten(correct))
    assert df.loc[~support, later[1:]].isna().all().all()  # no dynamics for the other rows

    # the hard end of each ranking: never learned comes first for the forgetting measures
    never = int(df.index[df["never_learned"].fillna(False).astype(bool)][0])
    assert never == 0 and df.loc[0, "forgetting_events"] == 12
    assert full.hardest("forgetting_events", n=1)["id"].item() == 0
    assert full.hardest("first_forgotten", n=1)["id"].item() == 0
    assert full.hardest("first_learned", n=1)["first_learned"].item() == 12
    assert full.hardest("diq_region", n=1)["diq_region"].item() == "hard"


def test_grand_last_layer_only_from_the_unpooled_head_input():
    """The closed form is GraNd only on the final linear layer's own input: another probe or a pooled one gives
    no column (not a wrong one)."""
    ext = extraction(8)
    ext.probes["block"] = ext.probes["penultimate"][:, :4].copy()
    assert "grand_last_layer" not in analysis_from_extraction(ext, features_probe="block").df
    ext.reductions = {"penultimate": {"pooled": True}}
    assert "grand_last_layer" not in analysis_from_extraction(ext, features_probe="penultimate").df
    ext.reductions = {"penultimate": {"pooled": False}}
    assert "grand_last_layer" in analysis_from_extraction(ext, features_probe="penultimate").df
