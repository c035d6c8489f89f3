"""The architectures researchers bring (torchvision, timm, EfficientNet-Lite0), random-init on small inputs: default
``analyze`` succeeds, the probes are the blocks of the architecture, no two probes read the same tensor, and the
features probe is the input of the final linear layer (compared with a hook of the test's own)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import Dataset

import difficulty_widget as dw
from difficulty_widget.extract import plan_extraction

tvm = pytest.importorskip("torchvision.models")


class Images(Dataset):
    """Seeded random images with labels and class names, as a torchvision dataset has them."""

    def __init__(self, n: int, size: int, n_classes: int, seed: int) -> None:
        gen = torch.Generator().manual_seed(seed)
        self.x = torch.rand((n, 3, size, size), generator=gen)
        self.targets = torch.randint(0, n_classes, (n,), generator=gen).tolist()
        self.classes = [f"class {c}" for c in range(n_classes)]

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.x[index], self.targets[index]


def _seq(prefix: str, counts: list[int]) -> list[str]:
    return [f"{prefix}{stage + 1}.{block}" for stage, n in enumerate(counts) for block in range(n)]


def _numbered(prefix: str, n: int) -> list[str]:
    return [f"{prefix}{i}" for i in range(n)]


STEM = ["input", "stem"]
END = ["penultimate", "logits"]
# the last of these (1280 x 2 x 2 at 64 px) pooled to 1280 x 1 x 1 is the penultimate features: dropped
EFFNET_B0 = [
    "features.0",
    "features.1",
    *[f"features.{s}.{b}" for s, n in [(2, 2), (3, 2), (4, 3), (5, 3), (6, 4)] for b in range(n)],
    "features.7",
    "features.8",
]
CONVNEXT_T = ["features.0"] + [
    name
    for stage, n in zip((1, 3, 5, 7), (3, 3, 9, 3), strict=True)
    for name in ([f"features.{stage - 1}"] if stage > 1 else []) + [f"features.{stage}.{b}" for b in range(n)]
]
SWIN_T = ["features.0"] + [
    name
    for stage, n in zip((1, 3, 5, 7), (2, 2, 6, 2), strict=True)
    for name in ([f"features.{stage - 1}"] if stage > 1 else []) + [f"features.{stage}.{b}" for b in range(n)]
]

# name: (constructor, image size, number of images, expected probes, the final linear layer)
TORCHVISION = {
    "resnet18": (lambda: tvm.resnet18(num_classes=10), 64, 24, STEM + _seq("layer", [2, 2, 2, 2]) + END, "fc"),
    # the last block pooled to 2048 x 1 x 1 (max_probe_dim 4096) is the penultimate features: dropped
    "resnet50": (lambda: tvm.resnet50(num_classes=10), 64, 24, STEM + _seq("layer", [3, 4, 6, 3])[:-1] + END, "fc"),
    "efficientnet_b0": (
        lambda: tvm.efficientnet_b0(num_classes=10),
        64,
        24,
        ["input", *EFFNET_B0[:-1], *END],
        "classifier.1",
    ),
    "mobilenet_v3_small": (
        lambda: tvm.mobilenet_v3_small(num_classes=10),
        64,
        24,
        ["input", *_numbered("features.", 13), *END],
        "classifier.3",
    ),
    "convnext_tiny": (lambda: tvm.convnext_tiny(num_classes=10), 64, 24, ["input", *CONVNEXT_T, *END], "classifier.2"),
    "densenet121": (
        lambda: tvm.densenet121(num_classes=10),
        64,
        24,
        STEM + [f"features.{kind}{i}" for i in range(1, 5) for kind in ("denseblock", "transition")][:-1] + END,
        "classifier",
    ),
    "vit_b_16": (
        lambda: tvm.vit_b_16(image_size=32, num_classes=10),
        32,
        24,
        STEM + _numbered("encoder.layers.encoder_layer_", 12) + END,
        "heads.head",
    ),
    "swin_t": (lambda: tvm.swin_t(num_classes=10), 64, 24, ["input", *SWIN_T, *END], "head"),
    "inception_v3": (
        lambda: tvm.inception_v3(num_classes=10, aux_logits=True, init_weights=False),
        299,
        12,
        [
            "input",
            "Conv2d_1a_3x3",
            "Conv2d_2a_3x3",
            "Conv2d_2b_3x3",
            "Conv2d_3b_1x1",
            "Conv2d_4a_3x3",
            "Mixed_5b",
            "Mixed_5c",
            "Mixed_5d",
            "Mixed_6a",
            "Mixed_6b",
            "Mixed_6c",
            "Mixed_6d",
            "Mixed_6e",
            "Mixed_7a",
            "Mixed_7b",
            *END,
        ],
        "fc",
    ),  # Mixed_7c pooled is the penultimate
    "googlenet": (
        lambda: tvm.googlenet(num_classes=10, aux_logits=False, init_weights=True),
        64,
        24,
        [
            "input",
            "conv1",
            "conv2",
            "conv3",
            "inception3a",
            "inception3b",
            "inception4a",
            "inception4b",
            "inception4c",
            "inception4d",
            "inception4e",
            "inception5a",
            "inception5b",
            *END,
        ],
        "fc",
    ),
}


def _check(model: torch.nn.Module, size: int, n: int, expected: list[str], final: str) -> None:
    torch.manual_seed(0)
    train, test = Images(n - 8, size, 10, seed=1), Images(8, size, 10, seed=2)
    names = plan_extraction(model, train, probes="blocks", max_probe_dim=4096).probe_names  # analyze's defaults
    assert names == expected
    analysis = dw.analyze(model, train, test, keep_embeddings=[*names, "penultimate"], progress=False)
    assert len(analysis.df) == n and analysis.df["prediction_depth"].between(0, len(names)).all()
    assert list(analysis.provenance["depth_probes"]) == names
    assert analysis.class_names == [f"class {c}" for c in range(10)]  # from the dataset's classes
    kept = analysis.embeddings
    for i, a in enumerate(names):  # no two probes read the same tensor
        for b in names[i + 1 :]:
            same = kept[a].shape == kept[b].shape and np.array_equal(kept[a], kept[b])
            assert not same, f"probes {a} and {b} carry the same values"
    # the features probe is the input of the final linear layer, read here with a hook of the test's own
    seen: list[torch.Tensor] = []
    handle = model.get_submodule(final).register_forward_pre_hook(lambda m, args: seen.append(args[0].detach()))
    model.eval()
    with torch.no_grad():
        model(torch.cat([train.x, test.x]))
    handle.remove()
    np.testing.assert_allclose(kept["penultimate"], seen[0].reshape(n, -1).numpy(), rtol=1e-4, atol=1e-5)
    assert analysis.provenance["features_probe"] == "penultimate"


@pytest.mark.slow
@pytest.mark.parametrize("name", list(TORCHVISION))
def test_torchvision_models(name):
    make, size, n, expected, final = TORCHVISION[name]
    _check(make(), size, n, expected, final)


TIMM = {
    # timm zero-initialises each block's last norm: random-init blocks are identities, their probes duplicates
    "resnet18": ({"zero_init_last": False}, 64, STEM + _seq("layer", [2, 2, 2, 2]) + END, "fc"),
    "vit_tiny_patch16_224": ({"img_size": 32}, 32, STEM + _numbered("blocks.", 12) + END, "head"),
    "deit_tiny_patch16_224": ({"img_size": 32}, 32, STEM + _numbered("blocks.", 12) + END, "head"),
    "convnext_atto": ({}, 64, STEM + _numbered("stages.", 4) + END, "head.fc"),
    "efficientnet_b0": (
        {},
        64,
        STEM
        + ["blocks.0"]
        + [f"blocks.{s}.{b}" for s, k in [(1, 2), (2, 2), (3, 3), (4, 3), (5, 4)] for b in range(k)]
        + ["blocks.6"]
        + END,
        "classifier",
    ),
    "swin_tiny_patch4_window7_224": ({"img_size": 64}, 64, STEM + _numbered("layers.", 4) + END, "head.fc"),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(TIMM))
def test_timm_models(name):
    timm = pytest.importorskip("timm")
    kwargs, size, expected, final = TIMM[name]
    _check(timm.create_model(name, pretrained=False, num_classes=10, **kwargs), size, 24, expected, final)


@pytest.mark.slow
def test_efficientnet_lite0_with_its_imagenet_weights():
    from difficulty_widget.semantics import load_efficientnet_lite0

    try:
        model = load_efficientnet_lite0()
    except ImportError as err:
        pytest.skip(str(err))
    expected = STEM + _numbered("_blocks.", 16) + END
    names = plan_extraction(model, Images(4, 64, 1000, seed=0), probes="blocks", max_probe_dim=4096).probe_names
    assert names == expected
    train, test = Images(16, 64, 1000, seed=1), Images(8, 64, 1000, seed=2)
    analysis = dw.analyze(model, train, test, progress=False)
    assert list(analysis.provenance["depth_probes"]) == expected
    seen: list[torch.Tensor] = []
    handle = model._fc.register_forward_pre_hook(lambda m, args: seen.append(args[0].detach()))
    with torch.no_grad():
        model.eval()(torch.cat([train.x, test.x]))
    handle.remove()
    np.testing.assert_allclose(analysis.embeddings["penultimate"], seen[0].numpy(), rtol=1e-4, atol=1e-5)
