"""The recommendation decision form."""

from __future__ import annotations

from django import forms

from painclinic.web.outcomes.models import Decision
from painclinic.web.outcomes.services import MAX_REASON


class DecisionForm(forms.Form):
    basis = forms.RegexField(
        regex=r"^[0-9a-f]{64}$",
        widget=forms.HiddenInput,
        error_messages={"invalid": "The recommendation card is not valid: reload the page."},
    )
    decision = forms.ChoiceField(
        choices=Decision.choices,
        error_messages={"required": "Choose accept or dismiss."},
    )
    reason = forms.CharField(
        required=False,
        max_length=MAX_REASON,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Reason (needed to dismiss)",
    )
