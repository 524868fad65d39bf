"""The questions of a time point as a person reads them: one per screen, in order, numbered.

The clinical core keeps each instrument's items (key, range, choices) in its own terse words;
this module puts them in plain questions with their answer labels (no item key or instrument
key ever reaches a page). A questionnaire the module does not know is still shown, from the
core's own wording.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from painclinic.clinical.instruments import ItemKind, ItemSpec, template

# The questionnaires' names as patients read them.
TITLES = {
    "nrs": "Your pain today",
    "bpi": "Brief Pain Inventory",
    "pgic": "Overall change since treatment",
    "phq9": "Mood over the last 2 weeks (PHQ-9)",
    "side_effects": "Side effects since your last infusion",
}

_BPI_SEVERITY = {
    "worst": "at its worst in the last 24 hours",
    "least": "at its least in the last 24 hours",
    "average": "on average",
    "now": "right now",
}
_BPI_INTERFERENCE = {
    "general_activity": "general activity",
    "mood": "mood",
    "walking_ability": "walking ability",
    "normal_work": "normal work (both work outside the home and housework)",
    "relations_with_others": "relations with other people",
    "sleep": "sleep",
    "enjoyment_of_life": "enjoyment of life",
}


@dataclass(frozen=True)
class Question:
    """One screen: the question, its answers, and where it sits in the time point."""

    number: int  # 1-based, across every questionnaire of the time point
    instrument: str
    title: str
    key: str
    text: str
    choices: tuple[tuple[Any, str], ...]
    optional: bool
    low_label: str = ""
    high_label: str = ""
    wide: bool = False  # long answer labels: one per line

    def label_of(self, value: Any) -> str:
        for choice, label in self.choices:
            if choice == value and type(choice) is type(value):
                return label
        return "—" if value is None else str(value)

    def parse(self, raw: str) -> Any:
        """The typed answer for a posted choice (ValueError when it is not one of them)."""
        for choice, _label in self.choices:
            if str(choice) == raw or (
                isinstance(choice, bool) and raw == ("yes" if choice else "no")
            ):
                return choice
        raise ValueError(raw)


def title_of(instrument: str) -> str:
    return TITLES.get(instrument) or template(instrument).title


def _sentence(text: str) -> str:
    text = text.strip().rstrip(".")
    return text[:1].upper() + text[1:]


def _plain(label: str) -> str:
    return _sentence(label.replace("_", " "))


def _integer_choices(spec: ItemSpec, suffix: str = "") -> tuple[tuple[Any, str], ...]:
    if spec.options:
        return tuple((value, _plain(str(label))) for value, label in spec.options)
    assert spec.minimum is not None and spec.maximum is not None
    return tuple(
        (value, f"{value}{suffix}")
        for value in range(int(spec.minimum), int(spec.maximum) + 1, int(spec.step or 1))
    )


def _question(number: int, instrument: str, spec: ItemSpec) -> Question:
    text = _sentence(spec.wording)
    low = high = ""
    suffix = ""
    wide = False
    if instrument == "nrs":
        text = "How much pain do you have right now?"
        low, high = "0 = no pain", "10 = worst pain you can imagine"
    elif instrument == "bpi" and spec.key.startswith("severity."):
        text = f"Rate your pain {_BPI_SEVERITY.get(spec.key.split('.', 1)[1], '')}.".replace(
            " .", "."
        )
        low, high = "0 = no pain", "10 = pain as bad as you can imagine"
    elif instrument == "bpi" and spec.key.startswith("interference."):
        what = _BPI_INTERFERENCE.get(spec.key.split(".", 1)[1], spec.key.split(".", 1)[1])
        text = f"In the last 24 hours, how much has pain interfered with your {what}?"
        low, high = "0 = does not interfere", "10 = completely interferes"
    elif instrument == "bpi" and spec.key == "relief_percent":
        text = "In the last 24 hours, how much relief have pain treatments or medicines given you?"
        low, high = "0% = no relief", "100% = complete relief"
        suffix = "%"
    elif instrument == "pgic":
        text = (
            "Since you started treatment at the clinic, how would you describe the change in "
            "your pain, activity and overall quality of life?"
        )
        wide = True
    elif instrument == "phq9":
        text = (
            "Over the last 2 weeks, how often have you been bothered by "
            f"{spec.wording.strip().rstrip('.')}?"
        )
        wide = True
    if spec.kind is ItemKind.BOOLEAN:
        choices: tuple[tuple[Any, str], ...] = ((True, "Yes"), (False, "No"))
    elif spec.kind is ItemKind.CHOICE:
        choices = tuple((value, _plain(str(label))) for value, label in spec.options)
        wide = True
    else:
        choices = _integer_choices(spec, suffix)
    return Question(
        number=number,
        instrument=instrument,
        title=title_of(instrument),
        key=spec.key,
        text=text,
        choices=choices,
        optional=spec.optional,
        low_label=low,
        high_label=high,
        wide=wide,
    )


def questions_for(instruments: list[str]) -> list[Question]:
    """Every question of a time point, in the order its questionnaires are listed."""
    found: list[Question] = []
    for instrument in instruments:
        for spec in template(instrument).items:
            found.append(_question(len(found) + 1, instrument, spec))
    return found
