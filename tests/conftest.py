"""Shared fixtures: small real data, and the external test data in ../shared/data when present."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from difficulty_widget.data import ImageData, load_digits

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")


@pytest.fixture(scope="session")
def digits() -> ImageData:
    return load_digits()


@pytest.fixture()
def tiny_images() -> ImageData:
    """40 random 28x28 grey images in 4 classes (seeded)."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(40, 28, 28), dtype=np.uint8)
    labels = np.arange(40) % 4
    return ImageData(images, labels, ["a", "b", "c", "d"], name="tiny")


@pytest.fixture(scope="session")
def fashion_dir() -> Path:
    if not (DEBIAN_FASHION_MNIST / "train-images-idx3-ubyte.gz").exists():
        pytest.skip("Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)")
    return DEBIAN_FASHION_MNIST


@pytest.fixture(scope="session")
def noisy_fashion_run(fashion_dir):
    """All 60,000 Fashion-MNIST training images with 5% of the labels flipped to a random other class (seed 0), and
    one 3-epoch small CNN trained on them with per-epoch logits (about 75 s on 2 cores, so trained once per session).

    Returns ``(train, clean_labels, flipped, result, head)``: ``head`` is the trained model's logits probe."""
    from difficulty_widget.data import load_fashion_mnist
    from difficulty_widget.extract import extract, train_small_model

    train = load_fashion_mnist("train", root=fashion_dir)
    clean = train.labels.copy()
    rng = np.random.default_rng(0)
    flipped = rng.random(len(train)) < 0.05
    train.labels = clean.copy()
    train.labels[flipped] = (clean[flipped] + rng.integers(1, 10, flipped.sum())) % 10
    result = train_small_model(train, "cnn", epochs=3, seed=0, record_logits=True, progress=False)
    head = extract(result.model, train, probes=["head"], progress=False).probes["head"]
    return train, clean, flipped, result, head


@pytest.fixture(scope="session")
def cifar10h_dir() -> Path:
    """../shared/data/cifar10h: CIFAR-10H label counts and probabilities (Peterson et al., ICCV 2019)."""
    folder = SHARED_DATA / "cifar10h"
    if not (folder / "cifar10h-counts.npy").is_file():
        pytest.skip(f"CIFAR-10H counts not found in {folder} (external test data, not shipped with the project)")
    return folder


@pytest.fixture(scope="session")
def wordnet_dir() -> Path:
    """WordNet 3.0 database files (Debian packages wordnet-base and wordnet-sense-index), or skip."""
    from difficulty_widget.semantics import find_wordnet_dir

    try:
        folder = find_wordnet_dir()
    except ValueError as exc:
        pytest.skip(f"WordNet not installed: {exc}")
    if not (folder / "index.sense").is_file():
        pytest.skip(f"{folder} lacks index.sense (apt-get install wordnet-sense-index)")
    return folder


@pytest.fixture(scope="session")
def semantics_cache(tmp_path_factory) -> Path:
    """A cache folder for the WordNet copy, class ancestors and similarity matrices, shared by the session (never
    the user's cache)."""
    return tmp_path_factory.mktemp("semantics-cache")


@pytest.fixture(scope="session", autouse=True)
def _remove_only_what_ray_sessions_of_this_run_created():
    """Ray's local clusters (tests/test_distributed.py, notebook 07) write ``~/.ray/auth_token`` (Ray >= 2.59) and a
    session folder under the temp dir's ``ray/``. Afterwards, remove those this test run created, and nothing else."""
    import shutil
    import tempfile

    token = Path.home() / ".ray" / "auth_token"
    sessions = Path(tempfile.gettempdir()) / "ray"
    had_token = token.exists()
    before = set(sessions.iterdir()) if sessions.is_dir() else set()
    yield
    if not had_token and token.exists():
        token.unlink()
        if not any(token.parent.iterdir()):
            token.parent.rmdir()
    if sessions.is_dir():
        for path in set(sessions.iterdir()) - before:
            if path.is_symlink():
                path.unlink()
            elif path.is_dir() and path.name.startswith("session_"):
                shutil.rmtree(path, ignore_errors=True)
        if not before and not any(sessions.iterdir()):
            sessions.rmdir()
