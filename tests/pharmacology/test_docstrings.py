"""Every public numerical function documents each parameter the numpydoc way, with units.

``numpydoc`` is not in ``requirements.lock``, so the docstrings are read by the small parser
below (numpydoc's section layout: a title line, a line of dashes, then ``name : type`` lines
with their description indented under them). For every parameter of every public function
of the numerical modules the test requires an entry with a type and a description, and, for
a physical quantity (a name ending in a unit such as ``_kg``, ``_h``, ``_mg_per_l``), the
unit in the entry's text.
"""

from __future__ import annotations

import inspect
import re
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import pytest

import painclinic.pharmacology as pharmacology
from painclinic.pharmacology import (
    dosing,
    druglibrary,
    formatting,
    patient,
    pkpd,
    population,
    regimen,
    simulation,
    solver,
)

NUMERICAL_MODULES: tuple[ModuleType, ...] = (
    solver,
    simulation,
    population,
    pkpd,
    dosing,
    regimen,
    patient,
    formatting,
    druglibrary,
)

# Name suffix -> the unit its documentation must name, longest suffix first.
UNITS: tuple[tuple[str, str], ...] = (
    ("_mg_per_kg_per_h", "mg/kg/h"),
    ("_mg_per_ml", "mg/mL"),
    ("_ml_per_h", "mL/h"),
    ("_mg_per_l", "mg/L"),
    ("_mg_per_h", "mg/h"),
    ("_mg_per_kg", "mg/kg"),
    ("_l_per_h", "L/h"),
    ("_per_h", "1/h"),
    ("_years", "years"),
    ("_days", "days"),
    ("_min", "min"),
    ("_kg", "kg"),
    ("_cm", "cm"),
    ("_mg", "mg"),
    ("_ml", "mL"),
    ("_h", "h"),
    ("_l", "L"),
)


@dataclass(frozen=True)
class Entry:
    names: tuple[str, ...]
    type: str
    description: str


def sections(doc: str) -> dict[str, list[str]]:
    """numpydoc sections: ``Title`` over a line of dashes at least as long, then its body."""
    lines = textwrap.dedent(doc).splitlines()
    found: dict[str, list[str]] = {}
    title: str | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        underline = lines[i + 1].strip() if i + 1 < len(lines) else ""
        if line.strip() and set(underline) == {"-"} and len(underline) >= len(line.strip()):
            title = line.strip()
            found[title] = []
            i += 2
            continue
        if title is not None:
            found[title].append(line)
        i += 1
    return found


def parameter_entries(doc: str) -> list[Entry]:
    body = sections(doc).get("Parameters", [])
    entries: list[Entry] = []
    for line in body:
        if not line.strip():
            continue
        if not line.startswith((" ", "\t")):  # a new ``name : type`` entry
            names, _, type_ = line.partition(":")
            split = tuple(n.strip().lstrip("*") for n in names.split(","))
            entries.append(Entry(split, type_.strip(), ""))
        elif entries:
            last = entries[-1]
            text = f"{last.description} {line.strip()}".strip()
            entries[-1] = Entry(last.names, last.type, text)
    return entries


def unit_for(name: str) -> str | None:
    for suffix, unit in UNITS:
        if name.endswith(suffix):
            return unit
    return None


def mentions(text: str, unit: str) -> bool:
    return re.search(rf"(?<![A-Za-z]){re.escape(unit)}(?![A-Za-z])", text) is not None


def public_functions() -> list[Callable[..., Any]]:
    found: dict[str, Callable[..., Any]] = {}
    for module in NUMERICAL_MODULES:
        for name, obj in vars(module).items():
            if name.startswith("_") or not inspect.isfunction(obj):
                continue
            if obj.__module__ != module.__name__:
                continue  # imported from elsewhere
            found[f"{module.__name__}.{name}"] = obj
    for name in pharmacology.__all__:
        obj = getattr(pharmacology, name)
        if inspect.isfunction(obj):
            found[f"{obj.__module__}.{obj.__name__}"] = obj
    return [found[k] for k in sorted(found)]


FUNCTIONS = public_functions()


def qualname(fn: Callable[..., Any]) -> str:
    return f"{fn.__module__.rsplit('.', 1)[-1]}.{fn.__name__}"


@pytest.mark.parametrize("name", sorted(pharmacology.__all__))
def test_public_objects_have_docstrings(name: str) -> None:
    obj = getattr(pharmacology, name)
    if isinstance(obj, dict):
        return
    assert inspect.getdoc(obj), name


@pytest.mark.parametrize("fn", FUNCTIONS, ids=qualname)
def test_every_parameter_has_a_typed_described_entry_with_its_unit(fn: Callable[..., Any]) -> None:
    params = [
        p
        for p in inspect.signature(fn).parameters.values()
        if p.name not in ("self", "cls") and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    if not params:
        return
    doc = inspect.getdoc(fn) or ""
    entries = {name: e for e in parameter_entries(doc) for name in e.names}
    problems = []
    for p in params:
        entry = entries.get(p.name)
        if entry is None:
            problems.append(f"{p.name}: no entry under Parameters")
            continue
        if not entry.type:
            problems.append(f"{p.name}: no type")
        if not entry.description:
            problems.append(f"{p.name}: no description")
        unit = unit_for(p.name)
        if unit and not mentions(f"{entry.type} {entry.description}", unit):
            problems.append(f"{p.name}: the unit {unit!r} is not named")
    assert not problems, f"{qualname(fn)}: " + "; ".join(problems)


# --- the parser itself ------------------------------------------------------------------------

SAMPLE = """Summary.

Parameters
----------
rate_mg_per_h : float
    Infusion rate (mg/h).
cl_l_per_h, v1_l : ndarray
    Clearance (L/h) and volume (L).
flag : bool

Returns
-------
float
    Not a parameter.
"""


def test_the_parser_reads_names_types_descriptions_and_stops_at_the_next_section() -> None:
    entries = parameter_entries(SAMPLE)
    assert entries == [
        Entry(("rate_mg_per_h",), "float", "Infusion rate (mg/h)."),
        Entry(("cl_l_per_h", "v1_l"), "ndarray", "Clearance (L/h) and volume (L)."),
        Entry(("flag",), "bool", ""),
    ]


@pytest.mark.parametrize(
    ("name", "text", "ok"),
    [
        ("weight_kg", "Body weight (kg).", True),
        ("weight_kg", "Body weight.", False),
        ("duration_h", "Duration (h).", True),
        ("duration_h", "Duration in hours, see the helper.", False),
        ("ka_per_h", "Absorption rate constant (1/h).", True),
        ("concentration_mg_per_l", "Concentration (mg/L).", True),
        ("concentration_mg_per_l", "Concentration (mg).", False),
    ],
)
def test_units_are_recognised_as_whole_tokens(name: str, text: str, ok: bool) -> None:
    unit = unit_for(name)
    assert unit is not None and mentions(text, unit) is ok
