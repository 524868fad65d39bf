"""The Examples sections of the package's docstrings run and agree with their output."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import painclinic.pharmacology as pharmacology

MODULES = sorted(
    f"painclinic.pharmacology.{m.name}" for m in pkgutil.iter_modules(pharmacology.__path__)
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
