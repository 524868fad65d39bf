"""Scheduling forms: raw text in, local dates and wall times out, one message per bad field."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms

from painclinic.web.lib.bounds import version_field
from painclinic.web.lib.clinictime import local_today
from painclinic.web.lib.widgets import IsoDateInput, Time24Input
from painclinic.web.scheduling.models import Chair
from painclinic.web.scheduling.services import WEEKDAYS

TIME_STEP_MIN = 15


def _chair_field() -> forms.ModelChoiceField:
    return forms.ModelChoiceField(
        queryset=Chair.objects.filter(active=True).order_by("name"),
        empty_label=None,
        label="Chair",
    )


class SlotFormMixin(forms.Form):
    def clean_date(self) -> dt.date:
        value: dt.date = self.cleaned_data["date"]
        if value < local_today():
            raise forms.ValidationError("The date is in the past.")
        if value > local_today() + dt.timedelta(days=400):
            raise forms.ValidationError("Book at most about a year ahead.")
        return value

    def clean_start_time(self) -> dt.time:
        value: dt.time = self.cleaned_data["start_time"]
        if value.minute % TIME_STEP_MIN or value.second:
            raise forms.ValidationError(
                f"Start on a quarter hour (:00, :15, :30, :45), e.g. {value:%H}:00."
            )
        return value


class SeriesForm(SlotFormMixin):
    date = forms.DateField(label="First session date", widget=IsoDateInput())
    start_time = forms.TimeField(
        label="Start time (clinic time)",
        widget=Time24Input(),
    )
    chair = _chair_field()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["chair"] = _chair_field()


class RescheduleForm(SlotFormMixin):
    date = forms.DateField(label="New date", widget=IsoDateInput())
    start_time = forms.TimeField(
        label="New start time (clinic time)",
        widget=Time24Input(),
    )
    chair = _chair_field()
    expected_version = version_field()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["chair"] = _chair_field()


class CancelForm(forms.Form):
    reason = forms.CharField(
        max_length=300,
        label="Reason for cancelling",
        widget=forms.TextInput(attrs={"placeholder": "e.g. patient unwell, called to cancel"}),
    )
    expected_version = version_field()

    def clean_reason(self) -> str:
        value = self.cleaned_data["reason"].strip()
        if len(value) < 3:
            raise forms.ValidationError("Give the reason for cancelling.")
        return value


class ChairForm(forms.Form):
    """A chair and its weekly hours: one opens/closes pair per weekday, both blank = closed."""

    name = forms.CharField(max_length=60)
    location = forms.CharField(max_length=100, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for weekday, day_name in enumerate(WEEKDAYS):
            self.fields[f"opens_{weekday}"] = forms.TimeField(
                required=False,
                label=f"{day_name} opens",
                widget=Time24Input(),
            )
            self.fields[f"closes_{weekday}"] = forms.TimeField(
                required=False,
                label=f"{day_name} closes",
                widget=Time24Input(),
            )

    def clean_name(self) -> str:
        return self.cleaned_data["name"].strip()

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        hours: dict[int, tuple[dt.time, dt.time] | None] = {}
        for weekday in range(7):
            opens = cleaned.get(f"opens_{weekday}")
            closes = cleaned.get(f"closes_{weekday}")
            if f"opens_{weekday}" in self.errors or f"closes_{weekday}" in self.errors:
                continue
            if opens is None and closes is None:
                hours[weekday] = None
            elif opens is None or closes is None:
                missing = f"opens_{weekday}" if opens is None else f"closes_{weekday}"
                self.add_error(missing, "Give both times, or leave both blank for closed.")
            elif closes <= opens:
                self.add_error(f"closes_{weekday}", "Closing time must be after opening time.")
            else:
                hours[weekday] = (opens, closes)
        cleaned["hours"] = hours
        return cleaned

    def weekday_rows(self) -> list[tuple[str, Any, Any]]:
        return [
            (day_name, self[f"opens_{weekday}"], self[f"closes_{weekday}"])
            for weekday, day_name in enumerate(WEEKDAYS)
        ]


class BoardDateForm(forms.Form):
    date = forms.DateField(required=False, widget=IsoDateInput())


class ClosureForm(forms.Form):
    date = forms.DateField(label="Closed on", widget=IsoDateInput())
    reason = forms.CharField(max_length=120, label="Reason (e.g. Family Day)")

    def clean_date(self) -> dt.date:
        value: dt.date = self.cleaned_data["date"]
        if value < local_today():
            raise forms.ValidationError("The date is in the past.")
        return value
