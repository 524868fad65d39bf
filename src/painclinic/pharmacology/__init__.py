"""Pharmacology core: exact PK simulation, population risk, dosing calculator (pure Python/NumPy).

Public API
----------
simulate(regimen) -> SimulationResult
simulate_population(regimen, n, seed) -> PopulationResult
calculate_infusion(order) -> InfusionCalculation
evaluate_session(library, drug, patient, steps) -> SessionLimitResult
predict_crps_relief(regimen, ...) -> ReliefPrediction
format_dose(value, unit) -> str
load_drug_library(path=None) -> DrugLibrary

No Django import anywhere in this package (enforced by tests/pharmacology/test_purity.py).
"""

from painclinic.pharmacology.dosing import (
    Bag,
    InfusionCalculation,
    InfusionOrder,
    LimitCheck,
    calculate_infusion,
    parse_order,
)
from painclinic.pharmacology.druglibrary import DrugLibrary, Limit, load_drug_library
from painclinic.pharmacology.enums import (
    DoseUnit,
    Entry,
    LimitBound,
    LimitLevel,
    LimitStatus,
    OutputKind,
)
from painclinic.pharmacology.errors import (
    DrugLibraryError,
    NeuraxialRouteError,
    PharmacologyInputError,
)
from painclinic.pharmacology.formatting import format_dose
from painclinic.pharmacology.models import (
    MODELS,
    ModelParameters,
    ModelSpec,
    NorketamineParameters,
)
from painclinic.pharmacology.patient import Patient, Sex, parse_patient
from painclinic.pharmacology.pkpd import ReliefPrediction, predict_crps_relief
from painclinic.pharmacology.population import PopulationResult, simulate_population
from painclinic.pharmacology.regimen import Dose, Regimen, parse_regimen
from painclinic.pharmacology.routes import Route
from painclinic.pharmacology.sessionlimits import (
    SESSION_QUANTITIES,
    SessionLimitResult,
    SessionStep,
    evaluate_session,
)
from painclinic.pharmacology.simulation import SimulationResult, simulate

__all__ = [
    "MODELS",
    "SESSION_QUANTITIES",
    "Bag",
    "Dose",
    "DoseUnit",
    "DrugLibrary",
    "DrugLibraryError",
    "Entry",
    "InfusionCalculation",
    "InfusionOrder",
    "Limit",
    "LimitBound",
    "LimitCheck",
    "LimitLevel",
    "LimitStatus",
    "ModelParameters",
    "ModelSpec",
    "NeuraxialRouteError",
    "NorketamineParameters",
    "OutputKind",
    "Patient",
    "PharmacologyInputError",
    "PopulationResult",
    "Regimen",
    "ReliefPrediction",
    "Route",
    "SessionLimitResult",
    "SessionStep",
    "Sex",
    "SimulationResult",
    "calculate_infusion",
    "evaluate_session",
    "format_dose",
    "load_drug_library",
    "parse_order",
    "parse_patient",
    "parse_regimen",
    "predict_crps_relief",
    "simulate",
    "simulate_population",
]
