"""The measure registry: every difficulty measure described once.

A measure is one ``Measure`` entry: its column name, perspective, the inputs it needs, its direction
("hard = high" or "hard = low"), its range, a one-line description and its reference. ``compute`` is the
pure function that produces its column; several entries may share one function (``model_scores`` produces
all model-perspective columns in one pass), and :func:`compute_available` calls each function once.

A new measure is one function plus one ``register(Measure(...))`` call next to it; nothing else changes.
The docs table (:func:`markdown_table`) and the widget's axis titles (:func:`axis_title`) come from here.

Input names used by the entries:
``logits`` (N x C), ``labels`` (N,) -- more are added by the modules that need them. ``optional`` inputs are
passed when the caller has them (for example ``support_mask``, the rows that form the training set, and
``progress``) and otherwise left to the function's defaults.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd

Perspective = Literal["model", "data", "human", "ensemble", "dynamics", "semantics"]
Direction = Literal["hard = high", "hard = low"]
PERSPECTIVES: tuple[str, ...] = ("model", "data", "human", "ensemble", "dynamics", "semantics")
DIRECTIONS: tuple[str, ...] = ("hard = high", "hard = low")


@dataclass(frozen=True)
class Measure:
    """Description of one per-instance difficulty measure (one column of an Analysis)."""

    name: str
    perspective: Perspective
    inputs: tuple[str, ...]
    direction: Direction
    range: str
    description: str
    reference: str
    compute: Callable[..., pd.DataFrame]
    optional: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise ValueError(f"measure name must be a Python identifier, got {self.name!r}")
        if self.perspective not in PERSPECTIVES:
            raise ValueError(f"perspective must be one of {PERSPECTIVES}, got {self.perspective!r}")
        if self.direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {DIRECTIONS}, got {self.direction!r}")
        if not self.inputs:
            raise ValueError(f"measure {self.name!r} must name the inputs it needs")

    @property
    def harder_when_higher(self) -> bool:
        return self.direction == "hard = high"


_MEASURES: dict[str, Measure] = {}


def register(measure: Measure) -> Measure:
    """Add ``measure`` to the registry; a second entry with the same name is an error."""
    if measure.name in _MEASURES and _MEASURES[measure.name] != measure:
        raise ValueError(f"a measure named {measure.name!r} is already registered")
    _MEASURES[measure.name] = measure
    return measure


def get(name: str) -> Measure:
    """The registered measure called ``name``."""
    try:
        return _MEASURES[name]
    except KeyError:
        raise KeyError(f"no measure named {name!r}; known measures: {sorted(_MEASURES)}") from None


def measures(perspective: str | None = None) -> list[Measure]:
    """All registered measures (of one perspective if given), in registration order."""
    if perspective is not None and perspective not in PERSPECTIVES:
        raise ValueError(f"perspective must be one of {PERSPECTIVES}, got {perspective!r}")
    return [m for m in _MEASURES.values() if perspective is None or m.perspective == perspective]


def available(inputs: Iterable[str]) -> list[Measure]:
    """The measures whose inputs are all among ``inputs``."""
    have = set(inputs)
    return [m for m in _MEASURES.values() if set(m.inputs) <= have]


def compute_available(
    inputs: Mapping[str, Any],
    names: Iterable[str] | None = None,
    *,
    precomputed: Mapping[Callable[..., pd.DataFrame], pd.DataFrame] | None = None,
) -> pd.DataFrame:
    """Compute every measure the given inputs allow (or just ``names``), calling each function once.

    ``precomputed`` maps a measure function to the frame it already returned for these inputs (a caller that
    also needs by-products of the computation, like prediction depth's flow data): that frame is used instead
    of a second call. Returns one DataFrame with all columns the called functions produce, in their order. With
    ``inputs["progress"]`` true, a progress bar counts the functions, naming the measure being computed.
    """
    from tqdm.auto import tqdm

    precomputed = precomputed or {}
    chosen = available(inputs) if names is None else [get(n) for n in names]
    missing = {m.name: sorted(set(m.inputs) - set(inputs)) for m in chosen if not set(m.inputs) <= set(inputs)}
    if missing:
        raise ValueError(f"missing inputs for measures: {missing}")
    frames: list[pd.DataFrame] = []
    functions: dict[Callable[..., pd.DataFrame], Measure] = {}
    for m in chosen:
        functions.setdefault(m.compute, m)  # each function once, with its first measure's name
    bar = tqdm(list(functions.values()), desc="scores", unit="fn", disable=not inputs.get("progress"), leave=False)
    for m in bar:
        if m.compute in precomputed:
            frames.append(precomputed[m.compute])
            continue
        bar.set_postfix_str(m.name)
        given = [*m.inputs, *(key for key in m.optional if key in inputs)]
        frames.append(m.compute(**{key: inputs[key] for key in given}))
    if not frames:
        return pd.DataFrame()
    return pd.concat(frames, axis=1)


def axis_title(name: str) -> str:
    """Axis title with the direction of difficulty, e.g. ``"loss (harder →)"``; plain name if unregistered."""
    if name not in _MEASURES:
        return name
    return f"{name} (harder →)" if _MEASURES[name].harder_when_higher else f"{name} (← harder)"


def markdown_table(perspective: str | None = None) -> str:
    """The docs table of measures, generated from the registry."""
    lines = [
        "| measure | perspective | hard when | range | inputs | definition | reference |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for m in sorted(measures(perspective), key=lambda m: PERSPECTIVES.index(m.perspective)):
        when = "high" if m.harder_when_higher else "low"
        lines.append(
            f"| `{m.name}` | {m.perspective} | {when} | {m.range} | {', '.join(m.inputs)} "
            f"| {m.description} | {m.reference} |"
        )
    return "\n".join(lines) + "\n"
