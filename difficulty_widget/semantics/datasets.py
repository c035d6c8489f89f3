"""Which WordNet noun synset each class of the built-in datasets is.

- ImageNet-1k: the 1000 wnids in the standard output order (index 0 = n01440764 "tench"), with short names,
  shipped as ``imagenet1k_classes.csv`` (facts: class ids and names). A wnid ``nXXXXXXXX`` is the noun synset
  at offset XXXXXXXX of WordNet 3.0's ``data.noun``.
- Fashion-MNIST (Xiao, Rasul, Vollgraf 2017) and MNIST / scikit-learn digits: mapped by hand to the synset whose
  WordNet gloss fits the images (a T-shirt is ``jersey.n.03``, "a close-fitting pullover shirt", whose lemmas are
  jersey, T-shirt, tee shirt; the digits are the numbers zero to nine, all children of ``digit.n.01``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path

import pandas as pd

IMAGENET1K_CSV = Path(__file__).with_name("imagenet1k_classes.csv")

FASHION_MNIST_SYNSETS: dict[str, str] = {
    "T-shirt/top": "jersey.n.03",  # T-shirt, tee shirt: a close-fitting pullover shirt
    "Trouser": "trouser.n.01",  # a garment extending from the waist to the knee or ankle
    "Pullover": "pullover.n.01",  # a sweater that is put on by pulling it over the head
    "Dress": "dress.n.01",  # a one-piece garment for a woman; has skirt and bodice
    "Coat": "coat.n.01",  # an outer garment that has sleeves and covers the body from shoulder down
    "Sandal": "sandal.n.01",  # a shoe consisting of a sole fastened by straps to the foot
    "Shirt": "shirt.n.01",  # a garment worn on the upper half of the body
    "Sneaker": "gym_shoe.n.01",  # sneaker, tennis shoe: a canvas shoe with a pliable rubber sole
    "Bag": "bag.n.04",  # handbag, purse: a container for carrying money and small personal items
    "Ankle boot": "boot.n.01",  # footwear that covers the whole foot and lower leg
}

MNIST_SYNSETS: dict[str, str] = {
    "0": "zero.n.02",  # a mathematical element that when added to another number yields the same number
    "1": "one.n.01",
    "2": "two.n.01",
    "3": "three.n.01",
    "4": "four.n.01",
    "5": "five.n.01",
    "6": "six.n.01",
    "7": "seven.n.01",
    "8": "eight.n.01",
    "9": "nine.n.01",
}
DIGITS_SYNSETS = MNIST_SYNSETS  # scikit-learn's digits have the same classes "0".."9"


#: the two names the short ImageNet list gives twice, told apart by what the synsets are (WordNet 3.0 glosses)
IMAGENET1K_UNIQUE_NAMES = {
    "n02012849": "crane (bird)",  # crane.n.05: large long-necked wading bird
    "n03126707": "crane (machine)",  # crane.n.04: lifts and moves heavy objects
    "n03710637": "maillot",  # maillot.n.01: tights for dancers or gymnasts
    "n03710721": "maillot (tank suit)",  # maillot.n.02, tank suit: a woman's one-piece bathing suit
}


@cache
def _imagenet1k() -> pd.DataFrame:
    frame = pd.read_csv(IMAGENET1K_CSV, dtype=str, keep_default_na=False)
    if len(frame) != 1000 or list(frame.columns) != ["wnid", "name"]:
        raise RuntimeError(f"{IMAGENET1K_CSV} is damaged: expected 1000 rows of wnid,name")
    frame["name"] = [IMAGENET1K_UNIQUE_NAMES.get(w, n) for w, n in zip(frame["wnid"], frame["name"], strict=True)]
    return frame


def imagenet1k_classes() -> pd.DataFrame:
    """The ImageNet-1k classes in the standard output order: columns ``wnid`` and ``name`` (unique: the two names
    the list gives twice, crane and maillot, carry what they are), 1000 rows."""
    return _imagenet1k().copy()


def imagenet1k_wnids() -> list[str]:
    """The 1000 ImageNet-1k wnids in the standard output order."""
    return _imagenet1k()["wnid"].tolist()


def class_synsets(class_names: Sequence[str], mapping: Mapping[str, str] | None = None) -> list[str]:
    """The synset name of each class, by name: from ``mapping`` when given, else from the Fashion-MNIST and
    MNIST/digits maps. Raises ``ValueError`` naming the first class without a synset.

    >>> class_synsets(["Trouser", "Bag"])
    ['trouser.n.01', 'bag.n.04']
    """
    if isinstance(class_names, str):
        raise ValueError(f"class_names must be a sequence of class names, got the string {class_names!r}")
    table = dict(mapping) if mapping is not None else {**FASHION_MNIST_SYNSETS, **MNIST_SYNSETS}
    out = []
    for k, name in enumerate(class_names):
        if str(name) not in table:
            raise ValueError(
                f"class_names[{k}] = {name!r} has no WordNet synset in the mapping; pass mapping={{{str(name)!r}: "
                "'word.n.01', ...}} with a noun synset for every class"
            )
        out.append(table[str(name)])
    return out
