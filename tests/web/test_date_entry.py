"""Dates and times are typed YYYY-MM-DD and HH:MM (24 h) whatever the browser's locale.

A browser's own date picker shows mm/dd/yyyy on a US-configured tablet and jj/mm/aaaa in
French, while every page shows YYYY-MM-DD: the forms use text inputs in the ISO format and the
server accepts nothing else, so 03/04/2026 is refused rather than read as March or April.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django import forms
from django.utils import translation

from painclinic.web.lib.widgets import IsoDateInput, IsoDateTimeInput, Time24Input
from painclinic.web.patients.forms import ConsentForm
from painclinic.web.scheduling.forms import SeriesForm


class Probe(forms.Form):
    day = forms.DateField(widget=IsoDateInput())
    at = forms.TimeField(widget=Time24Input())
    when = forms.DateTimeField(widget=IsoDateTimeInput())


@pytest.mark.parametrize("language", ["en-ca", "en-us", "fr", "fr-ca"])
def test_iso_dates_and_24_hour_times_are_read_the_same_in_every_language(language):
    with translation.override(language):
        form = Probe({"day": "2026-03-04", "at": "14:30", "when": "2026-03-04 08:05"})
        assert form.is_valid(), form.errors
        assert form.cleaned_data["day"] == dt.date(2026, 3, 4)
        assert form.cleaned_data["at"] == dt.time(14, 30)
        assert form.cleaned_data["when"].replace(tzinfo=None) == dt.datetime(2026, 3, 4, 8, 5)


@pytest.mark.parametrize("language", ["en-ca", "en-us", "fr-ca"])
@pytest.mark.parametrize(
    ("field", "typed"),
    [("day", "03/04/2026"), ("day", "04.03.2026"), ("day", "26-03-04"), ("at", "2:30 PM")],
)
def test_ambiguous_or_12_hour_entries_are_refused_on_their_field(language, field, typed):
    values = {"day": "2026-03-04", "at": "14:30", "when": "2026-03-04 08:05", field: typed}
    with translation.override(language):
        form = Probe(values)
        assert not form.is_valid()
        assert field in form.errors


def test_the_inputs_are_text_with_the_format_shown_not_the_browsers_picker():
    html = str(Probe()["day"]) + str(Probe()["at"]) + str(Probe()["when"])
    assert 'type="date"' not in html and 'type="time"' not in html
    assert "datetime-local" not in html
    assert 'placeholder="YYYY-MM-DD"' in html and 'placeholder="HH:MM (24 h)"' in html


def test_the_real_forms_use_the_iso_inputs():
    assert isinstance(ConsentForm().fields["decided_on"].widget, IsoDateInput)
    series = SeriesForm.base_fields
    assert any(isinstance(f.widget, Time24Input) for f in series.values())
    assert any(isinstance(f.widget, IsoDateInput) for f in series.values())


@pytest.mark.parametrize("language", ["en-ca", "fr-ca", "fr"])
def test_clinical_numbers_keep_the_decimal_point_in_every_language(language):
    """A weight beside a dose (ISMP notation, always a point) must not read 72,4 in French."""
    from decimal import Decimal

    from django.utils import formats

    with translation.override(language):
        assert formats.localize(Decimal("72.4")) == "72.4"
        assert formats.localize(0.5) == "0.5"
