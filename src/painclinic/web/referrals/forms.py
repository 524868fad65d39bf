"""The referral forms: raw text in, a typed entry out, one message per bad field."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from painclinic.web.lib.bounds import row_id_field
from painclinic.web.patients.forms import validate_date_of_birth
from painclinic.web.patients.healthcard import (
    health_number_problem,
    normalise_health_number,
    version_code_problem,
)
from painclinic.web.patients.models import SexAtBirth
from painclinic.web.referrals.letters import (
    Letter,
    letter_problem,
    max_bytes,
    safe_original_name,
)
from painclinic.web.referrals.models import Answer, Condition, Kind, Language, Urgency

# The self-referral's pre-screen, in plain words. The eligibility rules these mirror (the
# clinical core's ketamine contraindications and cautions): pregnancy, blood pressure above the
# clinic's limits, poorly controlled heart disease, psychosis or mania, liver disease, substance
# use. The answers help the clinic prepare; they decide nothing.
PRESCREEN_QUESTIONS: list[tuple[str, Any]] = [
    ("pregnancy", _("Are you pregnant, or could you be pregnant?")),
    (
        "blood_pressure",
        _("Do you have high blood pressure that is not under control, even with treatment?"),
    ),
    (
        "heart",
        _(
            "Do you have heart disease (for example a past heart attack, heart failure, "
            "or chest pain from your heart)?"
        ),
    ),
    (
        "psychosis",
        _(
            "Have you ever had psychosis (such as hearing voices or losing touch with reality), "
            "schizophrenia or mania?"
        ),
    ),
    ("liver", _("Do you have liver disease (for example cirrhosis or hepatitis)?")),
    ("substance_use", _("Do you currently have a problem with alcohol or drug use?")),
]
PRESCREEN_LABELS = dict(PRESCREEN_QUESTIONS)

_PHONE = re.compile(r"^[0-9 ()+.\-]{7,30}$")
# Typed as YYYY-MM-DD whatever the browser's locale (a date picker follows the locale and shows
# mm/dd/yyyy on a US-configured tablet); no other format is read, so 03/04 is never ambiguous.
_DATE = {"placeholder": "YYYY-MM-DD", "inputmode": "numeric", "autocomplete": "bday"}
DATE_FORMATS = ["%Y-%m-%d"]


@dataclass(frozen=True)
class ReferralEntry:
    """What a sender submitted (one shape for both forms; the unused fields stay empty)."""

    kind: str
    given_name: str
    family_name: str
    date_of_birth: dt.date
    phone: str
    condition: str
    sex_at_birth: str = ""
    health_card_number: str = ""
    email: str = ""
    address_line: str = ""
    city: str = ""
    postal_code: str = ""
    preferred_language: str = Language.ENGLISH
    treatments_tried: str = ""
    reason: str = ""
    urgency: str = Urgency.ROUTINE
    referrer_name: str = ""
    referrer_billing_number: str = ""
    referrer_cpso_number: str = ""
    referrer_phone: str = ""
    referrer_fax: str = ""
    referrer_email: str = ""
    referrer_address: str = ""
    prescreen: dict[str, str] = field(default_factory=dict)
    consent_to_contact: bool = False


def clean_phone(value: str, what: str) -> str:
    value = (value or "").strip()
    if value and not _PHONE.match(value):
        raise forms.ValidationError(
            _("Type %(what)s with digits only, for example 416-555-0142.") % {"what": what}
        )
    if value and sum(ch.isdigit() for ch in value) < 7:
        raise forms.ValidationError(_("%(what)s is too short.") % {"what": what.capitalize()})
    return value


def clean_health_card(raw: str) -> str:
    number = normalise_health_number(raw)
    if not number:
        return ""
    problem = health_number_problem(number)
    if problem:
        raise forms.ValidationError(problem)
    return number


def clean_postal(raw: str) -> str:
    code = (raw or "").replace(" ", "").upper()
    if code and (len(code) != 6 or not code[::2].isalpha() or not code[1::2].isdigit()):
        raise forms.ValidationError(_("A Canadian postal code looks like A1A 1A1."))
    return f"{code[:3]} {code[3:]}" if code else ""


PATIENT_NAMES = [
    "given_name",
    "family_name",
    "date_of_birth",
    "sex_at_birth",
    "health_card_number",
    "phone",
    "email",
    "address_line",
    "city",
    "postal_code",
]


def _sections(form: forms.Form, layout: list[tuple[Any, list[str]]]) -> list[tuple[str, list[Any]]]:
    return [(str(title), [form[name] for name in names]) for title, names in layout]


class _PatientFields(forms.Form):
    """The patient's part of both forms, and the honeypot."""

    given_name = forms.CharField(label=_("Patient's first name"), max_length=100)
    family_name = forms.CharField(label=_("Patient's last name"), max_length=100)
    date_of_birth = forms.DateField(
        label=_("Date of birth (YYYY-MM-DD)"),
        widget=forms.DateInput(attrs=_DATE, format="%Y-%m-%d"),
        input_formats=DATE_FORMATS,
        error_messages={"invalid": _("Type the date of birth as YYYY-MM-DD, e.g. 1970-05-17.")},
    )
    sex_at_birth = forms.ChoiceField(
        label=_("Sex at birth"),
        required=False,
        choices=[("", _("Prefer not to say")), *SexAtBirth.choices[:3]],
    )
    health_card_number = forms.CharField(
        label=_("Ontario health card number"),
        max_length=14,
        required=False,
        help_text=_("10 digits, as on the card (the version letters are not needed)."),
    )
    phone = forms.CharField(label=_("Patient's phone"), max_length=30)
    email = forms.EmailField(label=_("Patient's e-mail"), required=False, max_length=254)
    address_line = forms.CharField(label=_("Street address"), max_length=200, required=False)
    city = forms.CharField(label=_("City or town"), max_length=100, required=False)
    postal_code = forms.CharField(label=_("Postal code"), max_length=7, required=False)
    condition = forms.ChoiceField(label=_("Pain condition"), choices=Condition.choices)
    treatments_tried = forms.CharField(
        label=_("Treatments already tried"),
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    # The honeypot: hidden from people (CSS and aria-hidden); a form robot fills it in.
    website = forms.CharField(
        label=_("Leave this field empty"),
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"autocomplete": "off", "tabindex": "-1"}),
    )

    HONEYPOT = "website"

    def is_trap(self) -> bool:
        return bool((self.data.get(self.HONEYPOT) or "").strip())

    def clean_given_name(self) -> str:
        return self.cleaned_data["given_name"].strip()

    def clean_family_name(self) -> str:
        return self.cleaned_data["family_name"].strip()

    def clean_date_of_birth(self) -> dt.date:
        return validate_date_of_birth(self.cleaned_data["date_of_birth"])

    def clean_health_card_number(self) -> str:
        return clean_health_card(self.cleaned_data.get("health_card_number", ""))

    def clean_phone(self) -> str:
        return clean_phone(self.cleaned_data.get("phone", ""), str(_("the phone number")))

    def clean_postal_code(self) -> str:
        return clean_postal(self.cleaned_data.get("postal_code", ""))

    def _common(self) -> dict[str, Any]:
        data = self.cleaned_data
        names = [
            "given_name",
            "family_name",
            "date_of_birth",
            "sex_at_birth",
            "health_card_number",
            "phone",
            "email",
            "address_line",
            "city",
            "postal_code",
            "condition",
            "treatments_tried",
        ]
        return {name: data.get(name) or "" for name in names} | {
            "date_of_birth": data["date_of_birth"]
        }


class PhysicianReferralForm(_PatientFields):
    referrer_name = forms.CharField(label=_("Your name"), max_length=200)
    referrer_billing_number = forms.CharField(
        label=_("OHIP billing number"),
        max_length=6,
        help_text=_("Your 6-digit OHIP billing (provider) number."),
    )
    referrer_cpso_number = forms.CharField(
        label=_("CPSO number (optional)"), max_length=10, required=False
    )
    referrer_phone = forms.CharField(label=_("Your phone"), max_length=30)
    referrer_fax = forms.CharField(label=_("Your fax"), max_length=30, required=False)
    referrer_email = forms.EmailField(label=_("Your e-mail"), required=False, max_length=254)
    referrer_address = forms.CharField(label=_("Clinic address"), max_length=300)
    reason = forms.CharField(
        label=_("Reason for referral"), max_length=4000, widget=forms.Textarea(attrs={"rows": 4})
    )
    urgency = forms.ChoiceField(
        label=_("Urgency"),
        choices=[(Urgency.ROUTINE, _("Routine")), (Urgency.SOON, _("Soon (within 4 weeks)"))],
    )
    letter = forms.FileField(
        label=_("Referral letter (PDF)"),
        widget=forms.ClearableFileInput(attrs={"accept": "application/pdf,.pdf"}),
        error_messages={"required": _("Attach the referral letter as a PDF file.")},
    )

    field_order = [
        "referrer_name",
        "referrer_billing_number",
        "referrer_cpso_number",
        "referrer_phone",
        "referrer_fax",
        "referrer_email",
        "referrer_address",
    ]

    def __init__(self, *args: Any, upload_too_large: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if upload_too_large:
            # The upload was stopped at the limit (referrals/uploads.py): no file arrived.
            problem = letter_problem(b"", max_bytes() + 1) or ""
            self.fields["letter"].error_messages["required"] = problem
        # A physician has the card in front of them: it identifies the patient.
        self.fields["health_card_number"].required = True
        self.fields["letter"].help_text = _("PDF only, at most %(mb)s MB.") % {
            "mb": max_bytes() // (1024 * 1024)
        }

    def sections(self) -> list[tuple[str, list[Any]]]:
        return _sections(
            self,
            [
                (
                    _("About you, the referring physician"),
                    [
                        "referrer_name",
                        "referrer_billing_number",
                        "referrer_cpso_number",
                        "referrer_phone",
                        "referrer_fax",
                        "referrer_email",
                        "referrer_address",
                    ],
                ),
                (_("The patient"), PATIENT_NAMES),
                (
                    _("The referral"),
                    ["condition", "treatments_tried", "reason", "urgency", "letter"],
                ),
            ],
        )

    def clean_referrer_name(self) -> str:
        return self.cleaned_data["referrer_name"].strip()

    def clean_referrer_billing_number(self) -> str:
        number = re.sub(r"[\s-]", "", self.cleaned_data.get("referrer_billing_number", ""))
        if not (number.isdigit() and len(number) == 6):
            raise forms.ValidationError(_("An OHIP billing number has exactly 6 digits."))
        return number

    def clean_referrer_cpso_number(self) -> str:
        number = re.sub(r"[\s-]", "", self.cleaned_data.get("referrer_cpso_number", ""))
        if number and not (number.isdigit() and 4 <= len(number) <= 6):
            raise forms.ValidationError(_("A CPSO number has 4 to 6 digits."))
        return number

    def clean_referrer_phone(self) -> str:
        return clean_phone(self.cleaned_data.get("referrer_phone", ""), str(_("your phone")))

    def clean_referrer_fax(self) -> str:
        return clean_phone(self.cleaned_data.get("referrer_fax", ""), str(_("your fax")))

    def clean_letter(self) -> Letter:
        upload = self.cleaned_data["letter"]
        size = upload.size or 0
        head = b""
        if 0 < size <= max_bytes():
            upload.seek(0)
            head = upload.read(len(b"%PDF-"))
        problem = letter_problem(head, size)
        if problem:
            raise forms.ValidationError(problem)
        upload.seek(0)
        return Letter(upload.read(), safe_original_name(upload.name or ""))

    def to_entry(self) -> ReferralEntry:
        data = self.cleaned_data
        referrer: dict[str, Any] = {
            name: data.get(name) or ""
            for name in (
                "referrer_name",
                "referrer_billing_number",
                "referrer_cpso_number",
                "referrer_phone",
                "referrer_fax",
                "referrer_email",
                "referrer_address",
                "reason",
                "urgency",
            )
        }
        return ReferralEntry(kind=Kind.PHYSICIAN, **self._common(), **referrer)


class SelfReferralForm(_PatientFields):
    preferred_language = forms.ChoiceField(
        label=_("Preferred language"), choices=Language.choices, initial=Language.ENGLISH
    )

    reason = forms.CharField(
        label=_("Anything else you would like the clinic to know (optional)"),
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    consent_to_contact = forms.BooleanField(
        label=_("I agree that the clinic may contact me by phone or e-mail about this request."),
        error_messages={"required": _("Tick this box so the clinic may contact you.")},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The language the form is read in is the likeliest one the person speaks.
        if (get_language() or "").startswith("fr"):
            self.fields["preferred_language"].initial = Language.FRENCH
        self.fields["given_name"].label = _("First name")
        self.fields["family_name"].label = _("Last name")
        self.fields["phone"].label = _("Phone")
        self.fields["email"].label = _("E-mail (optional)")
        self.fields["health_card_number"].label = _("Ontario health card number (optional)")
        self.fields["condition"].label = _("What is your pain condition?")
        self.fields["treatments_tried"].label = _("Treatments you have already tried (optional)")
        for key, question in PRESCREEN_QUESTIONS:
            self.fields[f"q_{key}"] = forms.ChoiceField(
                label=question,
                choices=Answer.choices,
                widget=forms.RadioSelect,
                error_messages={"required": _("Choose Yes, No or Not sure.")},
            )

    def sections(self) -> list[tuple[str, list[Any]]]:
        return _sections(
            self,
            [
                (_("About you"), [*PATIENT_NAMES, "preferred_language"]),
                (_("Your pain"), ["condition", "treatments_tried", "reason"]),
            ],
        )

    def prescreen_fields(self) -> list[Any]:
        return [self[f"q_{key}"] for key, _question in PRESCREEN_QUESTIONS]

    def to_entry(self) -> ReferralEntry:
        data = self.cleaned_data
        return ReferralEntry(
            kind=Kind.SELF,
            **self._common(),
            preferred_language=data["preferred_language"],
            reason=data.get("reason") or "",
            prescreen={key: data[f"q_{key}"] for key, _question in PRESCREEN_QUESTIONS},
            consent_to_contact=bool(data["consent_to_contact"]),
        )


# --- triage --------------------------------------------------------------------------------


class AcceptForm(forms.Form):
    """The demographics the front desk registers, prefilled from the referral and correctable."""

    legal_given_name = forms.CharField(label=_("Legal given name"), max_length=100)
    legal_family_name = forms.CharField(label=_("Legal family name"), max_length=100)
    date_of_birth = forms.DateField(
        label=_("Date of birth (YYYY-MM-DD)"),
        widget=forms.DateInput(attrs=_DATE | {"autocomplete": "off"}, format="%Y-%m-%d"),
        input_formats=DATE_FORMATS,
        error_messages={"invalid": _("Type the date of birth as YYYY-MM-DD, e.g. 1970-05-17.")},
    )
    sex_at_birth = forms.ChoiceField(label=_("Sex at birth"), choices=SexAtBirth.choices)
    health_card_number = forms.CharField(
        label=_("Ontario health card number"), max_length=14, required=False
    )
    health_card_version = forms.CharField(label=_("Version code"), max_length=2, required=False)
    phone = forms.CharField(label=_("Phone"), max_length=30, required=False)
    email = forms.EmailField(label=_("E-mail"), max_length=254, required=False)
    address_line = forms.CharField(label=_("Street address"), max_length=200, required=False)
    city = forms.CharField(label=_("City"), max_length=100, required=False)
    postal_code = forms.CharField(label=_("Postal code"), max_length=7, required=False)
    confirm_different_person = forms.BooleanField(
        required=False,
        label=_("I have checked: this is a different person with the same name and date of birth"),
    )

    def clean_legal_given_name(self) -> str:
        return self.cleaned_data["legal_given_name"].strip()

    def clean_legal_family_name(self) -> str:
        return self.cleaned_data["legal_family_name"].strip()

    def clean_date_of_birth(self) -> dt.date:
        return validate_date_of_birth(self.cleaned_data["date_of_birth"])

    def clean_health_card_number(self) -> str:
        return clean_health_card(self.cleaned_data.get("health_card_number", ""))

    def clean_health_card_version(self) -> str:
        code = (self.cleaned_data.get("health_card_version") or "").strip().upper()
        problem = version_code_problem(code)
        if problem:
            raise forms.ValidationError(problem)
        return code

    def clean_phone(self) -> str:
        return clean_phone(self.cleaned_data.get("phone", ""), str(_("the phone number")))

    def clean_postal_code(self) -> str:
        return clean_postal(self.cleaned_data.get("postal_code", ""))

    @classmethod
    def initial_from(cls, referral: Any) -> dict[str, Any]:
        return {
            "legal_given_name": referral.given_name,
            "legal_family_name": referral.family_name,
            "date_of_birth": referral.date_of_birth,
            "sex_at_birth": referral.sex_at_birth or SexAtBirth.UNKNOWN,
            "health_card_number": referral.health_card_number,
            "phone": referral.phone,
            "email": referral.email,
            "address_line": referral.address_line,
            "city": referral.city,
            "postal_code": referral.postal_code,
        }

    def to_demographics(self) -> Any:
        from painclinic.web.patients.services import Demographics

        data = self.cleaned_data
        return Demographics(
            legal_given_name=data["legal_given_name"],
            legal_family_name=data["legal_family_name"],
            date_of_birth=data["date_of_birth"],
            sex_at_birth=data["sex_at_birth"],
            health_card_number=data.get("health_card_number") or "",
            health_card_version=data.get("health_card_version") or "",
            phone=data.get("phone") or "",
            email=data.get("email") or "",
            address_line=data.get("address_line") or "",
            city=data.get("city") or "",
            postal_code=data.get("postal_code") or "",
        )


class LinkForm(forms.Form):
    patient_id = row_id_field()


class DeclineForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason (kept with the referral)"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": _("Say why the referral is declined.")},
    )


class DuplicateForm(forms.Form):
    reason = forms.CharField(
        label=_("Note (optional: which referral or patient it repeats)"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
