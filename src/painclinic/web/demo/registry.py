"""Demo users (one per role) and realistic fictitious patients. Safe to run again."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from painclinic.web.accounts.models import Role, User
from painclinic.web.patients.healthcard import luhn_check_digit
from painclinic.web.patients.models import (
    Consent,
    ConsentDecision,
    ConsentKind,
    ExternalPhysician,
    Patient,
    SexAtBirth,
    WeightMeasurement,
)

DEMO_USERS = [
    ("physician", Role.PHYSICIAN, "Amara", "Okafor", "CPSO 98765"),
    ("physician2", Role.PHYSICIAN, "Luc", "Tremblay", "CPSO 87654"),
    ("nurse", Role.NURSE, "Grace", "Lindqvist", "CNO 1234567"),
    ("nurse2", Role.NURSE, "Ravi", "Sandhu", "CNO 7654321"),
    ("frontdesk", Role.FRONT_DESK, "Mei", "Chen", ""),
    ("billing", Role.BILLING, "Tom", "Bergeron", ""),
    ("clinicadmin", Role.CLINIC_ADMIN, "Nadia", "Haddad", ""),
    ("patient", Role.PATIENT, "Jordan", "Whitfield", ""),
]

GIVEN_F = [
    "Olivia",
    "Emma",
    "Chloé",
    "Aisha",
    "Priya",
    "Sofia",
    "Hannah",
    "Mackenzie",
    "Zoé",
    "Fatima",
    "Leah",
    "Grace",
    "Ava",
    "Mei",
    "Noor",
    "Isabelle",
    "Maya",
    "Élise",
]
GIVEN_M = [
    "Liam",
    "Noah",
    "Ethan",
    "Mohammed",
    "Lucas",
    "Arjun",
    "William",
    "Benjamin",
    "Omar",
    "Félix",
    "Owen",
    "Wei",
    "Daniel",
    "Jacob",
    "Samuel",
    "Thomas",
    "Kofi",
    "Mateo",
]
FAMILY = [
    "Smith",
    "Tremblay",
    "Singh",
    "Nguyen",
    "Martin",
    "Patel",
    "Roy",
    "Gagnon",
    "Li",
    "MacDonald",
    "Wilson",
    "Côté",
    "Khan",
    "Brown",
    "Campbell",
    "Chen",
    "Anderson",
    "Lavoie",
    "Ahmed",
    "Taylor",
    "Morrison",
    "Fortin",
    "Kaur",
    "Wong",
    "Bouchard",
    "Thompson",
    "O'Neill",
    "Ibrahim",
    "Fraser",
    "Santos",
]
CITIES = [
    ("Toronto", "M5V"),
    ("Ottawa", "K1P"),
    ("Hamilton", "L8P"),
    ("London", "N6A"),
    ("Kingston", "K7L"),
    ("Mississauga", "L5B"),
    ("Sudbury", "P3E"),
    ("Guelph", "N1H"),
]
STREETS = [
    "King St W",
    "Queen St E",
    "Bloor St W",
    "Main St",
    "Elm Ave",
    "Maple Dr",
    "Lakeshore Rd",
]
REFERRERS = [
    ("Dr. Sarah Goldberg", "123456"),
    ("Dr. Kwame Mensah", "234567"),
    ("Dr. Julie Pelletier", "345678"),
    ("Dr. Hiroshi Tanaka", "456789"),
]


@dataclass(frozen=True)
class DemoSummary:
    users: list[tuple[str, str]]
    patient_total: int


def valid_health_number(rng: random.Random) -> str:
    first_nine = "".join(str(rng.randint(0, 9)) for _ in range(9))
    return first_nine + str(luhn_check_digit(first_nine))


def _ensure_users(password: str) -> dict[str, User]:
    users = {}
    for username, role, first, last, registration in DEMO_USERS:
        user, _ = User.objects.get_or_create(
            username=username,
            defaults={
                "role": role,
                "first_name": first,
                "last_name": last,
                "registration_number": registration,
                "email": f"{username}@example.org",
            },
        )
        user.set_password(password)
        user.save(update_fields=["password"])
        users[username] = user
    return users


def build_patient(rng: random.Random, physicians: list[ExternalPhysician]) -> Patient:
    sex = rng.choice([SexAtBirth.FEMALE, SexAtBirth.FEMALE, SexAtBirth.MALE])
    given = rng.choice(GIVEN_F if sex == SexAtBirth.FEMALE else GIVEN_M)
    family = rng.choice(FAMILY)
    today = timezone.localdate()
    born = today - dt.timedelta(days=rng.randint(19 * 365, 82 * 365))
    city, fsa = rng.choice(CITIES)
    phone = f"({rng.choice(['416', '613', '905', '519', '705'])}) 555-{rng.randint(1000, 9999)}"
    return Patient(
        legal_given_name=given,
        legal_family_name=family,
        preferred_name=rng.choice(["", "", "", given[:3]]),
        date_of_birth=born,
        sex_at_birth=sex,
        gender=rng.choice(["", "woman" if sex == SexAtBirth.FEMALE else "man"]),
        health_card_number=valid_health_number(rng),
        health_card_version=rng.choice(["", "AB", "KT", "ZX"]),
        phone=phone,
        email=f"{given.lower()}.{family.lower().replace(chr(39), '')}@example.com",
        address_line=f"{rng.randint(1, 999)} {rng.choice(STREETS)}",
        city=city,
        province="ON",
        postal_code=f"{fsa} {rng.randint(1, 9)}{rng.choice('ABCEGHJ')}{rng.randint(1, 9)}",
        emergency_contact_name=f"{rng.choice(GIVEN_F + GIVEN_M)} {family}",
        emergency_contact_relationship=rng.choice(["spouse", "parent", "sibling", "friend"]),
        emergency_contact_phone=f"(416) 555-{rng.randint(1000, 9999)}",
        referring_physician=rng.choice(physicians),
        family_physician=rng.choice(physicians),
    )


def load_demo(password: str, patient_count: int, seed: int = 20261125) -> DemoSummary:
    rng = random.Random(seed)
    with transaction.atomic():
        users = _ensure_users(password)
        physicians = []
        for name, billing in REFERRERS:
            physician, _ = ExternalPhysician.objects.get_or_create(
                name=name, defaults={"ohip_billing_number": billing}
            )
            physicians.append(physician)
        existing = Patient.objects.count()
        nurse = users["nurse"]
        now = timezone.now()
        for _ in range(max(0, patient_count - existing)):
            patient = build_patient(rng, physicians)
            while Patient.objects.filter(health_card_number=patient.health_card_number).exists():
                patient.health_card_number = valid_health_number(rng)
            patient.save()
            height = Decimal(rng.randint(150, 192))
            WeightMeasurement.objects.create(
                patient=patient,
                weight_kg=Decimal(rng.randint(500, 1150)) / 10,
                height_cm=height,
                measured_on=timezone.localdate() - dt.timedelta(days=rng.randint(0, 60)),
                recorded_by=nurse,
                recorded_at=now,
            )
            Consent.objects.create(
                patient=patient,
                kind=ConsentKind.EMAIL,
                decision=ConsentDecision.GRANTED,
                decided_on=timezone.localdate(),
                document_version="EMAIL-2026-01",
                recorded_by=users["frontdesk"],
                recorded_at=now,
            )
        portal_user = users["patient"]
        if not Patient.objects.filter(portal_user=portal_user).exists():
            patient = build_patient(rng, physicians)
            patient.legal_given_name, patient.legal_family_name = "Jordan", "Whitfield"
            patient.preferred_name = ""
            patient.email = "jordan.whitfield@example.com"
            patient.emergency_contact_name = "Sam Whitfield"
            patient.portal_user = portal_user
            patient.save()
            WeightMeasurement.objects.create(
                patient=patient,
                weight_kg=Decimal("72.4"),
                height_cm=Decimal("171"),
                measured_on=timezone.localdate(),
                recorded_by=nurse,
                recorded_at=now,
            )
            Consent.objects.create(
                patient=patient,
                kind=ConsentKind.TREATMENT,
                decision=ConsentDecision.GRANTED,
                decided_on=timezone.localdate(),
                document_version="KET-2026-01",
                witness_name="Grace Lindqvist",
                recorded_by=nurse,
                recorded_at=now,
            )
    return DemoSummary(
        users=[(username, str(role.label)) for username, role, *_ in DEMO_USERS],
        patient_total=Patient.objects.count(),
    )
