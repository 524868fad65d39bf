from __future__ import annotations

from django import forms

from painclinic.web.worklist.services import MAX_ACTION_CHARS, MIN_ACTION_CHARS


class AcknowledgeForm(forms.Form):
    action_taken = forms.CharField(
        label="Action taken",
        max_length=MAX_ACTION_CHARS,
        error_messages={"required": "Say what was done before taking the task off the worklist."},
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="What was done, for example: called the patient, safety plan reviewed, "
        "appointment booked for tomorrow.",
    )

    def clean_action_taken(self) -> str:
        value = self.cleaned_data["action_taken"].strip()
        if len(value) < MIN_ACTION_CHARS:
            raise forms.ValidationError(
                "Say what was done before taking the task off the worklist."
            )
        return value
