"""Every public function and class of the package has a docstring, and every public function type hints its
return value (the style guide's rule; a measure's docstring also names its reference)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import difficulty_widget

MODULES = sorted(
    m.name for m in pkgutil.walk_packages(difficulty_widget.__path__, "difficulty_widget.") if ".static" not in m.name
)


def public_members(module):
    for name, obj in vars(module).items():
        if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
            continue
        if inspect.isfunction(obj) or inspect.isclass(obj):
            yield name, obj


@pytest.mark.parametrize("name", MODULES)
def test_public_functions_have_docstrings_and_return_hints(name):
    module = importlib.import_module(name)
    assert module.__doc__, f"{name} has no module docstring"
    missing, unhinted = [], []
    for member, obj in public_members(module):
        if not inspect.getdoc(obj):
            missing.append(member)
        if inspect.isfunction(obj) and "return" not in obj.__annotations__:
            unhinted.append(member)
    assert not missing, f"{name}: no docstring on {missing}"
    assert not unhinted, f"{name}: no return type hint on {unhinted}"
