"""Finding flipped labels: our difficulty measures and label-issue flag against cleanlab, on Fashion-MNIST.

``--report label-issues`` (the default; issue 17): for each noise setting of ``--settings`` (default 5% and 20%
symmetric flips, ``sym:0.05,sym:0.2``, and 10% class-pair flips, ``pair:0.1``: each flipped image gets its class's
most similar class, the class whose mean training image has the highest cosine similarity with its own), one
small CNN is trained on the noisy labels (3 epochs, logits recorded after every epoch) and
``difficulty_widget.measures.label_issue_scores`` flags the training labels from that one run (the head features
and the per-epoch logits). cleanlab gets 5-fold out-of-sample probabilities (five more trainings) and
``cleanlab.filter.find_label_issues``; our confident joint on the same cross-validated probabilities
(``pred_probs=``) is a third row. Per method: precision, recall and F1 of the flag, the estimated number of errors
against the true number, the accuracy of the suggested label on the flipped images it flags and on all flipped
images, the AUROC of the score, and the compute (training included). ``--subset N`` uses N seeded training rows.

``--report measures`` is the earlier report below (5% symmetric flips, all our measures against cleanlab):

5% of the 60,000 training labels are flipped to a random other class, seeded as in tests/test_label_noise.py.
One small CNN is trained on the noisy labels (3 epochs, logits recorded after every epoch), and each of our
measures scores every training instance from that one run: k-NN label agreement on the penultimate embedding
(``head``), area under the margin, data-map confidence, forgetting events, prediction depth (training set as
its own support, itself excluded) and the final model's loss. cleanlab gets what its documentation asks for:
out-of-sample predicted probabilities from 5-fold cross-validation (a fresh CNN per fold, same trainer and
epochs), then ``cleanlab.filter.find_label_issues`` and ``cleanlab.rank.get_label_quality_scores``.

Prints one markdown table: per measure, its AUROC for finding the flipped labels (each score oriented so that
"harder" = more likely flipped) and the wall time of the scoring alone, plus the training costs; then the
precision and recall of cleanlab's flagged set and of our k-NN agreement and AUM cut at the same number of
flagged instances; then whether one of our measures matches or beats cleanlab's AUROC, and the total time.
Nothing is asserted: times on a shared CPU are noisy. Needs the ``bench`` extra (cleanlab) and Fashion-MNIST
(see ``difficulty_widget.data.load_fashion_mnist``).

    python benchmarks/bench_label_noise.py [--report label-issues|measures] [--settings sym:0.05,sym:0.2,pair:0.1]
        [--subset 0] [--epochs 3] [--folds 5] [--depth-subset 0] [--no-cleanlab]

``--depth-subset N`` computes prediction depth on N seeded training rows (queries and support both) instead of
all 60,000; 0 (the default) uses the whole training set.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from scipy.special import softmax
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

from difficulty_widget.data import load_fashion_mnist
from difficulty_widget.extract import extract, train_small_model
from difficulty_widget.measures import (
    area_under_margin,
    data_map,
    estimated_label_errors,
    find_label_issues,
    forgetting_events,
    knn_label_agreement,
    label_issue_scores,
    model_scores,
    prediction_depth,
)


def timed(fn):
    """(result of fn(), wall seconds)."""
    started = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - started


def auroc(flipped: np.ndarray, score: np.ndarray, hard: str) -> float:
    """AUROC of ``score`` for the flipped labels, oriented so that 'hard' (``"low"`` or ``"high"``) = flipped."""
    oriented = -np.asarray(score, dtype=np.float64) if hard == "low" else np.asarray(score, dtype=np.float64)
    return float(roc_auc_score(flipped, oriented))


def precision_recall(flipped: np.ndarray, flagged: np.ndarray) -> tuple[int, float, float]:
    hits = int((flipped & flagged).sum())
    return hits, hits / max(1, int(flagged.sum())), hits / int(flipped.sum())


def lowest(score: np.ndarray, m: int) -> np.ndarray:
    """Boolean mask of the m lowest scores (ties at the cut go to the lower index)."""
    mask = np.zeros(len(score), dtype=bool)
    mask[np.argsort(score, kind="stable")[:m]] = True
    return mask


def flip_labels(train, kind: str, rate: float) -> tuple[np.ndarray, np.ndarray]:
    """(clean labels, flipped mask), ``train.labels`` set to the noisy labels; seeded as in the tests.

    ``sym``: each flipped label goes to a uniformly random other class; ``pair``: to its class's most similar
    class (highest cosine similarity of the class-mean training images)."""
    n = len(train)
    clean = train.labels.copy()
    rng = np.random.default_rng(0)
    flipped = rng.random(n) < rate
    noisy = clean.copy()
    if kind == "sym":
        noisy[flipped] = (clean[flipped] + rng.integers(1, train.n_classes, flipped.sum())) % train.n_classes
    elif kind == "pair":
        noisy[flipped] = most_similar_class(train.images, clean, train.n_classes)[clean[flipped]]
    else:
        raise ValueError(f"noise kind must be 'sym' or 'pair', got {kind!r}")
    train.labels = noisy
    return clean, flipped


def most_similar_class(images: np.ndarray, labels: np.ndarray, n_classes: int) -> np.ndarray:
    """Per class, the other class whose mean image has the highest cosine similarity with its mean image."""
    x = images.reshape(len(images), -1).astype(np.float64)
    means = np.stack([x[labels == c].mean(axis=0) for c in range(n_classes)])
    means /= np.linalg.norm(means, axis=1, keepdims=True)
    similarity = means @ means.T
    np.fill_diagonal(similarity, -np.inf)
    return similarity.argmax(axis=1)


def cross_validated_probs(train, labels: np.ndarray, folds: int, epochs: int) -> tuple[np.ndarray, float]:
    """Out-of-sample softmax from ``folds``-fold cross-validation (a fresh CNN per fold), and its wall time."""
    n = len(labels)
    pred_probs = np.zeros((n, train.n_classes), dtype=np.float64)
    splits = StratifiedKFold(n_splits=folds, shuffle=True, random_state=0).split(np.zeros(n), labels)
    started = time.perf_counter()
    for fold, (fit_rows, held_rows) in enumerate(splits):
        model = train_small_model(train.subset(fit_rows), "cnn", epochs=epochs, seed=fold, progress=False)
        held_logits = extract(model.model, train.subset(held_rows), progress=False).logits
        pred_probs[held_rows] = softmax(held_logits.astype(np.float64), axis=1)
    return pred_probs, time.perf_counter() - started


def flag_row(method, flipped, clean, flag, score, suggested, estimate, seconds) -> dict:
    """One row of the label-issue table (``suggested``: per row, or ``None`` when the method gives none)."""
    hits = int((flipped & flag).sum())
    precision, recall = hits / max(1, int(flag.sum())), hits / int(flipped.sum())
    found = flipped & flag
    return {
        "method": method,
        "flagged": int(flag.sum()),
        "precision": precision,
        "recall": recall,
        "f1": 2 * precision * recall / max(1e-12, precision + recall),
        "estimate": estimate,
        "suggested_found": None if suggested is None else float((suggested[found] == clean[found]).mean()),
        "suggested_all": None if suggested is None else float((suggested[flipped] == clean[flipped]).mean()),
        "auroc": None if score is None else auroc(flipped, score, "high"),
        "seconds": seconds,
    }


def one_setting(args, kind: str, rate: str, cleanlab_find) -> list[dict]:
    """The rows of one noise setting: our flag from one run, then (with ``cleanlab_find``) cleanlab and our
    confident joint on cross-validated probabilities."""
    train = load_fashion_mnist("train")
    if args.subset:
        train = train.subset(np.sort(np.random.default_rng(0).choice(len(train), args.subset, replace=False)))
    clean, flipped = flip_labels(train, kind, float(rate))
    labels, n = train.labels, len(train)
    name = f"{float(rate):.0%} {'symmetric' if kind == 'sym' else 'class-pair'}"
    print(f"\n{name}: {n} images, {flipped.sum()} labels flipped", flush=True)
    result, t_train = timed(
        lambda: train_small_model(train, "cnn", epochs=args.epochs, seed=0, record_logits=True, progress=False)
    )
    head, t_extract = timed(lambda: extract(result.model, train, probes=["head"], progress=False).probes["head"])
    ours, t_flag = timed(lambda: label_issue_scores(head, labels, logits_per_epoch=result.logits_per_epoch, k=args.k))
    print(f"trained in {t_train:.1f} s, extracted in {t_extract:.1f} s, flagged in {t_flag:.1f} s", flush=True)
    rows = [
        flag_row(
            "ours: label_issue (one run)", flipped, clean, ours["label_issue"].to_numpy(),
            ours["label_issue_score"].to_numpy(), ours["suggested_label"].to_numpy(), int(ours["label_issue"].sum()),
            t_train + t_extract + t_flag,
        )
    ]  # fmt: skip
    if cleanlab_find is not None:
        pred_probs, t_cv = cross_validated_probs(train, labels, args.folds, args.epochs)
        print(f"{args.folds}-fold CV in {t_cv:.1f} s", flush=True)
        issues, t_find = timed(lambda: cleanlab_find(labels, pred_probs))
        others = pred_probs.copy()
        others[np.arange(n), labels] = -np.inf
        rows.append(flag_row(
            f"cleanlab find_label_issues ({args.folds}-fold CV)", flipped, clean, issues,
            1 - pred_probs[np.arange(n), labels], others.argmax(axis=1), int(issues.sum()), t_cv + t_find,
        ))  # fmt: skip
        cv_ours, t_ours = timed(lambda: find_label_issues(labels, pred_probs))
        rows.append(flag_row(
            f"ours: find_label_issues on the {args.folds}-fold CV probs", flipped, clean,
            cv_ours["label_issue"].to_numpy(), cv_ours["label_issue_score"].to_numpy(),
            cv_ours["suggested_label"].to_numpy(), round(float(estimated_label_errors(labels, pred_probs).sum())),
            t_cv + t_ours,
        ))  # fmt: skip
    for row in rows:
        row["setting"], row["true"] = name, int(flipped.sum())
    return rows


def label_issue_report(args) -> None:
    """The issue-17 table: our flag from one run against cleanlab on cross-validated probabilities."""
    try:
        import cleanlab
        from cleanlab.filter import find_label_issues as cleanlab_find
    except ImportError:
        cleanlab = None
    use_cleanlab = cleanlab is not None and not args.no_cleanlab
    started = time.perf_counter()
    print(f"small CNN, {args.epochs} epochs, k={args.k}, torch threads {torch.get_num_threads()}; "
          + (f"cleanlab {cleanlab.__version__}, {args.folds}-fold CV" if use_cleanlab else "no cleanlab"),
          flush=True)  # fmt: skip
    find = cleanlab_find if use_cleanlab else None
    table = [row for setting in args.settings.split(",") for row in one_setting(args, *setting.split(":"), find)]

    def fmt(value):
        return "–" if value is None else f"{value:.3f}"

    print()
    print("| noise | method | flagged | precision | recall | F1 | estimated / true errors | suggested label right "
          "(flagged flips / all flips) | AUROC of score | compute (s) |")  # fmt: skip
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in table:
        print(f"| {r['setting']} | {r['method']} | {r['flagged']} | {r['precision']:.3f} | {r['recall']:.3f} "
              f"| {r['f1']:.3f} | {r['estimate']} / {r['true']} ({r['estimate'] / r['true'] - 1:+.1%}) "
              f"| {fmt(r['suggested_found'])} / {fmt(r['suggested_all'])} | {fmt(r['auroc'])} "
              f"| {r['seconds']:.1f} |")  # fmt: skip
    print(f"\nOurs: compute = one training run + one extraction of the head + the flag; cleanlab: {args.folds} "
          "trainings of cross-validation + find_label_issues (on top of the model you wanted).")  # fmt: skip
    print(f"Total wall time: {time.perf_counter() - started:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--report", choices=("label-issues", "measures"), default="label-issues")
    parser.add_argument("--settings", default="sym:0.05,sym:0.2,pair:0.1", help="kind:rate,... (sym or pair)")
    parser.add_argument("--subset", type=int, default=0, help="seeded training rows (label-issues); 0 = all")
    parser.add_argument("--no-cleanlab", action="store_true", help="skip cleanlab and its cross-validation")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--k", type=int, default=30)
    parser.add_argument("--flip-rate", type=float, default=0.05)
    parser.add_argument("--depth-subset", type=int, default=0, help="rows for prediction depth; 0 = all")
    args = parser.parse_args()
    if args.report == "label-issues":
        label_issue_report(args)
    else:
        measures_report(args)


def measures_report(args) -> None:
    import cleanlab
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    started = time.perf_counter()
    train = load_fashion_mnist("train")
    n = len(train)
    clean = train.labels.copy()
    rng = np.random.default_rng(0)  # the noise of tests/test_label_noise.py
    flipped = rng.random(n) < args.flip_rate
    train.labels = clean.copy()
    train.labels[flipped] = (clean[flipped] + rng.integers(1, 10, flipped.sum())) % 10
    labels = train.labels
    print(f"Fashion-MNIST train: {n} images, {flipped.sum()} labels flipped ({flipped.mean():.2%}); "
          f"small CNN, {args.epochs} epochs; k={args.k}; cleanlab {cleanlab.__version__}, "
          f"{args.folds}-fold CV; torch threads {torch.get_num_threads()}", flush=True)  # fmt: skip

    result, t_train = timed(
        lambda: train_small_model(train, "cnn", epochs=args.epochs, seed=0, record_logits=True, progress=False)
    )
    print(f"trained on the noisy labels in {t_train:.1f} s", flush=True)
    ext, t_extract = timed(lambda: extract(result.model, train, probes="default", progress=False))
    print(f"extracted {len(ext.probes)} probes {[p.shape[1] for p in ext.probes.values()]} in {t_extract:.1f} s",
          flush=True)  # fmt: skip
    head, logits_per_epoch = ext.probes["head"], result.logits_per_epoch

    rows: list[tuple[str, float | None, float, str]] = []  # (measure, AUROC, seconds, note)
    scores: dict[str, np.ndarray] = {}

    scores["knn"], t = timed(lambda: knn_label_agreement(head, labels, k=args.k))
    rows.append((f"k-NN label agreement (head, k={args.k})", auroc(flipped, scores["knn"], "low"), t, "low = flipped"))
    scores["aum"], t = timed(lambda: area_under_margin(logits_per_epoch, labels))
    rows.append(("AUM", auroc(flipped, scores["aum"], "low"), t, f"low = flipped; {args.epochs} epoch records"))
    dm, t = timed(lambda: data_map(logits_per_epoch, labels))
    rows.append(("data-map confidence", auroc(flipped, dm["dm_confidence"], "low"), t, "low = flipped"))

    def forgetting():
        correct = logits_per_epoch.argmax(axis=2) == labels[None, :]
        return forgetting_events(correct)

    (forgotten, never_learned), t = timed(forgetting)
    rows.append(("forgetting events", auroc(flipped, forgotten, "high"), t,
                 f"high = flipped; raw count in 0..{args.epochs - 1}"))  # fmt: skip
    # Toneva et al. rank never-learned examples as forgotten infinitely often
    toneva = np.where(never_learned, args.epochs, forgotten)  # above every possible count
    rows.append(("forgetting events, never learned = most", auroc(flipped, toneva, "high"), t,
                 f"Toneva et al.'s convention (same timing); {never_learned.sum()} never learned"))  # fmt: skip

    if args.depth_subset and args.depth_subset < n:
        depth_rows = np.sort(np.random.default_rng(0).choice(n, args.depth_subset, replace=False))
        depth_note = f"high = flipped; SUBSET of {args.depth_subset} seeded rows as queries and support"
        probes = [p[depth_rows] for p in ext.probes.values()]
    else:
        depth_rows = np.arange(n)
        depth_note = f"high = flipped; all {n} rows as queries and support, self excluded"
        probes = list(ext.probes.values())
    depth, t = timed(
        lambda: prediction_depth(
            probes, probes, labels[depth_rows], ext.predictions[depth_rows], k=args.k, exclude_self=True,
            progress=False,
        )
    )  # fmt: skip
    rows.append((f"prediction depth ({len(probes)} probes)", auroc(flipped[depth_rows], depth.depth, "high"), t,
                 depth_note))  # fmt: skip
    ms, t = timed(lambda: model_scores(ext.logits, labels))
    rows.append(("loss (final model)", auroc(flipped, ms["loss"], "high"), t, "high = flipped"))
    ours = {name: value for name, value, _, _ in rows}
    print("our measures done", flush=True)

    # cleanlab: out-of-sample predicted probabilities from K-fold cross-validation
    pred_probs = np.zeros((n, train.n_classes), dtype=np.float64)
    folds = StratifiedKFold(n_splits=args.folds, shuffle=True, random_state=0)
    t_cv = 0.0
    for fold, (fit_rows, held_rows) in enumerate(folds.split(np.zeros(n), labels)):

        def one_fold(fit_rows=fit_rows, held_rows=held_rows, fold=fold):
            model = train_small_model(train.subset(fit_rows), "cnn", epochs=args.epochs, seed=fold, progress=False)
            held_logits = extract(model.model, train.subset(held_rows), progress=False).logits
            return softmax(held_logits.astype(np.float64), axis=1)

        pred_probs[held_rows], t = timed(one_fold)
        t_cv += t
        print(f"fold {fold}: trained on {len(fit_rows)}, predicted {len(held_rows)} in {t:.1f} s", flush=True)

    ranked, t_find = timed(lambda: find_label_issues(labels, pred_probs, return_indices_ranked_by="self_confidence"))
    flagged = np.zeros(n, dtype=bool)
    flagged[ranked] = True
    quality, t_quality = timed(lambda: get_label_quality_scores(labels, pred_probs))
    cl_auroc = auroc(flipped, quality, "low")
    rows.append(("cleanlab get_label_quality_scores", cl_auroc, t_quality,
                 f"low = flipped; self-confidence of {args.folds}-fold out-of-sample probs"))  # fmt: skip
    rows.append(("cleanlab find_label_issues (mask)", auroc(flipped, flagged, "high"), t_find,
                 f"binary: (recall + specificity) / 2; {flagged.sum()} flagged"))  # fmt: skip

    rows.append(("cost: train 1 CNN, record logits", None, t_train, f"{args.epochs} epochs on {n}; input of ours"))
    rows.append(("cost: extract probes (1 pass)", None, t_extract, "input of k-NN, depth, loss"))
    rows.append((f"cost: {args.folds}-fold CV training", None, t_cv,
                 f"{args.folds} fresh CNNs x {args.epochs} epochs; input of cleanlab"))  # fmt: skip

    print()
    print("| measure | AUROC | wall time (s) | note |")
    print("|---|---:|---:|---|")
    for name, value, seconds, note in rows:
        shown = "–" if value is None else f"{value:.4f}"
        print(f"| {name} | {shown} | {seconds:.2f} | {note} |")

    m = int(flagged.sum())
    print()
    print(f"Flagged sets of the same size ({m} instances; {flipped.sum()} labels are flipped):")
    print()
    print("| method | flagged | flipped among flagged | precision | recall |")
    print("|---|---:|---:|---:|---:|")
    for name, mask in [
        ("cleanlab find_label_issues", flagged),
        (f"k-NN agreement, lowest {m}", lowest(scores["knn"], m)),
        (f"AUM, lowest {m}", lowest(scores["aum"], m)),
    ]:
        hits, precision, recall = precision_recall(flipped, mask)
        print(f"| {name} | {int(mask.sum())} | {hits} | {precision:.4f} | {recall:.4f} |")
    ties = int((scores["knn"] == np.sort(scores["knn"])[m - 1]).sum())
    print(f"\n(k-NN agreement takes values in steps of 1/{args.k}: {ties} instances share the value at the cut, "
          "broken by index)")  # fmt: skip

    best = max(ours, key=ours.get)
    verdict = "yes" if round(ours[best], 4) >= round(cl_auroc, 4) else "no"
    print(f"\nOne of our measures matches or beats cleanlab's AUROC ({cl_auroc:.4f}): {verdict} "
          f"(best: {best}, {ours[best]:.4f}, difference {ours[best] - cl_auroc:+.4f})")  # fmt: skip
    print(f"Total wall time: {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
