"""Valid submissions of the two public forms, and PDF / not-PDF files."""

from __future__ import annotations

from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile

from painclinic.web.patients.healthcard import luhn_check_digit

PDF_BYTES = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG_BYTES = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def health_card(first_nine: str = "123456789") -> str:
    return first_nine + str(luhn_check_digit(first_nine))


def pdf(name: str = "letter to the clinic.pdf", content: bytes = PDF_BYTES) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/pdf")


def physician_data(**override: Any) -> dict[str, Any]:
    data = {
        "referrer_name": "Dr. Amara Osei",
        "referrer_billing_number": "123456",
        "referrer_cpso_number": "87654",
        "referrer_phone": "416-555-0100",
        "referrer_fax": "416-555-0101",
        "referrer_email": "osei@familyclinic.example",
        "referrer_address": "12 Queen St W, Toronto ON M5H 2N2",
        "given_name": "Marguerite",
        "family_name": "Tremblay",
        "date_of_birth": "1968-03-14",
        "sex_at_birth": "female",
        "health_card_number": health_card(),
        "phone": "647-555-0199",
        "email": "m.tremblay@example.com",
        "address_line": "88 Elm Ave",
        "city": "Toronto",
        "postal_code": "m4w 1n4",
        "condition": "crps",
        "treatments_tried": "gabapentin 1800 mg daily 10 weeks; physiotherapy",
        "reason": "CRPS type 1 right hand after a wrist fracture, refractory to first-line care.",
        "urgency": "routine",
        "website": "",
    }
    data.update(override)
    return data


def self_data(**override: Any) -> dict[str, Any]:
    data = {
        "given_name": "Luc",
        "family_name": "Gagnon",
        "date_of_birth": "1975-11-02",
        "sex_at_birth": "male",
        "health_card_number": "",
        "phone": "613-555-0123",
        "email": "luc.gagnon@example.com",
        "address_line": "",
        "city": "Ottawa",
        "postal_code": "",
        "preferred_language": "fr",
        "condition": "phn",
        "treatments_tried": "pregabalin",
        "reason": "Pain since shingles two years ago.",
        "q_pregnancy": "no",
        "q_blood_pressure": "no",
        "q_heart": "unsure",
        "q_psychosis": "no",
        "q_liver": "no",
        "q_substance_use": "no",
        "consent_to_contact": "on",
        "website": "",
    }
    data.update(override)
    return data
