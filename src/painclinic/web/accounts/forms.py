from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.password_validation import validate_password

from painclinic.web.accounts.models import Role, User

# Roles a clinic admin can give an account: staff only (patients register through the portal;
# the system role belongs to the one unattended-work user).
STAFF_ROLE_CHOICES = [(r.value, r.label) for r in Role if r not in (Role.PATIENT, Role.SYSTEM)]


class TokenForm(forms.Form):
    token = forms.CharField(
        label="6-digit code from your authenticator app",
        min_length=6,
        max_length=6,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code"}),
    )

    def clean_token(self) -> str:
        token: str = self.cleaned_data["token"].strip()
        if not token.isdigit():
            raise forms.ValidationError("The code is 6 digits.")
        return token


class StaffCreateForm(forms.Form):
    username = forms.CharField(max_length=150)
    first_name = forms.CharField(max_length=150)
    last_name = forms.CharField(max_length=150)
    email = forms.EmailField(required=False)
    role = forms.ChoiceField(choices=STAFF_ROLE_CHOICES)
    registration_number = forms.CharField(
        max_length=20, required=False, label="CPSO/CNO registration number"
    )
    password = forms.CharField(widget=forms.PasswordInput, strip=False)

    def clean_username(self) -> str:
        from painclinic.web.accounts.services import username_problem

        username: str = self.cleaned_data["username"].strip()
        problem = username_problem(username)
        if problem:
            raise forms.ValidationError(problem)
        if User.objects.filter(username__iexact=username).exists():
            raise forms.ValidationError("That username is taken.")
        return username

    def to_account(self) -> Any:
        from painclinic.web.accounts.services import StaffAccount

        data = self.cleaned_data
        return StaffAccount(
            username=data["username"],
            first_name=data["first_name"],
            last_name=data["last_name"],
            role=data["role"],
            password=data["password"],
            email=data.get("email", ""),
            registration_number=data.get("registration_number", ""),
        )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        password = cleaned.get("password")
        if password:
            probe = User(
                username=cleaned.get("username", ""),
                first_name=cleaned.get("first_name", ""),
                last_name=cleaned.get("last_name", ""),
                email=cleaned.get("email", ""),
            )
            try:
                validate_password(password, probe)
            except forms.ValidationError as error:
                self.add_error("password", error)
        return cleaned


class RoleChangeForm(forms.Form):
    role = forms.ChoiceField(choices=STAFF_ROLE_CHOICES)
    reason = forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 2}))


class PasswordResetForm(forms.Form):
    """A temporary password for a colleague; they must replace it when they next sign in."""

    temporary_password = forms.CharField(
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        strip=False,
        max_length=128,
        help_text="Give it to them in person or by phone, never by e-mail.",
    )
    temporary_password_again = forms.CharField(
        label="Temporary password, again",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        strip=False,
        max_length=128,
    )
    reason = forms.CharField(
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="For example: forgot it; locked out after failed sign-ins.",
    )

    def __init__(self, *args: Any, target: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.target = target

    def clean_reason(self) -> str:
        reason: str = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError("Say why the password is reset.")
        return reason

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        first = cleaned.get("temporary_password")
        second = cleaned.get("temporary_password_again")
        if first and second and first != second:
            self.add_error("temporary_password_again", "The two passwords differ.")
        elif first:
            try:
                validate_password(first, self.target)
            except forms.ValidationError as error:
                self.add_error("temporary_password", error)
        return cleaned
