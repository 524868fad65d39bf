"""Instrument forms are built from the items' structured fields, never from their prose."""

from __future__ import annotations

import dataclasses

import pytest
from django import forms

from painclinic import clinical
from painclinic.clinical.instruments import INSTRUMENTS
from painclinic.web.assessments import forms as assessment_forms
from painclinic.web.assessments.forms import InstrumentForm


def _shape(form: InstrumentForm) -> list[tuple[str, str, bool, list[tuple[str, str]]]]:
    return [
        (name, type(field).__name__, field.required, list(getattr(field, "choices", [])))
        for name, field in form.fields.items()
    ]


@pytest.mark.parametrize("instrument", sorted(INSTRUMENTS))
def test_the_form_ignores_the_allowed_prose(instrument, monkeypatch):
    """Blank out every item's ``allowed`` text: the form must come out the same."""
    real = clinical.template(instrument)
    blank = dataclasses.replace(
        real, items=tuple(dataclasses.replace(i, allowed="(see the paper)") for i in real.items)
    )
    expected = _shape(InstrumentForm(instrument=instrument))
    monkeypatch.setattr(assessment_forms.clinical, "template", lambda name: blank)
    assert _shape(InstrumentForm(instrument=instrument)) == expected


@pytest.mark.parametrize("instrument", sorted(INSTRUMENTS))
def test_every_choice_of_every_field_is_an_allowed_value(instrument):
    form = InstrumentForm(instrument=instrument)
    for spec in clinical.template(instrument).items:
        field = form.fields[assessment_forms.field_name(spec.key)]
        if isinstance(field, forms.BooleanField):
            assert spec.kind == "boolean"
            continue
        offered = [value for value, _label in field.choices if value != ""]
        assert offered == [str(v) for v in spec.values()]
        assert ("" in [value for value, _ in field.choices]) is spec.optional
        assert field.required is not spec.optional


def test_aldrete_answers_say_what_earns_the_points():
    # The prose "2 moves 4 extremities on command, 1 moves 2 extremities, 0 moves none" was
    # read by a regular expression into "2 · Extremities"; the labels now come from the core.
    form = InstrumentForm(instrument="aldrete")
    assert form.fields["activity"].choices == [
        ("0", "0 · Moves none"),
        ("1", "1 · Moves 2 extremities"),
        ("2", "2 · Moves 4 extremities on command"),
    ]
    assert ("2", "2 · SpO2 above 92% on room air") in form.fields["oxygen_saturation"].choices


def test_bpi_relief_offers_tens_and_not_answered():
    field = InstrumentForm(instrument="bpi").fields["relief_percent"]
    assert [v for v, _ in field.choices] == ["", *(str(n) for n in range(0, 101, 10))]
    assert field.choices[0] == ("", "Not answered")


def test_rass_labels_each_rating():
    field = InstrumentForm(instrument="rass").fields["score"]
    assert field.choices[0] == ("-5", "-5 · Unarousable")
    assert field.choices[-1] == ("4", "4 · Combative")


def test_a_submitted_form_scores_like_the_core():
    data = {"activity": "2", "respiration": "2", "circulation": "1", "consciousness": "2"}
    data["oxygen_saturation"] = "2"
    form = InstrumentForm(data, instrument="aldrete")
    assert form.is_valid(), form.errors
    assert form.result is not None and form.result.score == 9
    assert form.result == clinical.score("aldrete", form.answers())
