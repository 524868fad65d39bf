"""Published and custom compartment models for ketamine and lidocaine.

All parameters are carried as clearances (L/h) and volumes (L); rate constants are
derived from them inside the solver only. Every :class:`ModelSpec` records its citation,
the population it was built from, its validity ranges and its units. The numbers come from
``/work/shared/domain/clinical-reference.md`` section 4 (tags: [S] confirmed source,
[S2] secondary only, [U] unconfirmed); anything not found there is labelled *assumption*
and documented in ``docs/pharmacology.md``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from painclinic.pharmacology.errors import PharmacologyInputError
from painclinic.pharmacology.patient import Patient, positive_number

#: Molar masses (g/mol). Ketamine 237.73 [S] (reference section 4); norketamine
#: (C12H14ClNO) 223.70 [U, general chemistry].
KETAMINE_MOLAR_MASS_G_PER_MOL = 237.73
NORKETAMINE_MOLAR_MASS_G_PER_MOL = 223.70


@dataclass(frozen=True)
class ModelParameters:
    """Clearance/volume parameterisation of a 1-, 2- or 3-compartment model.

    Attributes
    ----------
    compartments : int
        1, 2 or 3.
    cl_l_per_h : float
        Elimination clearance from the central compartment (L/h).
    v1_l : float
        Central volume (L).
    q2_l_per_h, v2_l : float
        Inter-compartmental clearance (L/h) and volume (L) of the first peripheral
        compartment (ignored when ``compartments == 1``).
    q3_l_per_h, v3_l : float
        Same for the second peripheral compartment (used when ``compartments == 3``).
    ke0_per_h : float or None
        Effect-site equilibration rate constant (1/h); None = no effect site.
    ka_per_h : float or None
        Default first-order absorption rate constant (1/h) for custom models.
    """

    compartments: int
    cl_l_per_h: float
    v1_l: float
    q2_l_per_h: float = 0.0
    v2_l: float = 0.0
    q3_l_per_h: float = 0.0
    v3_l: float = 0.0
    ke0_per_h: float | None = None
    ka_per_h: float | None = None

    def __post_init__(self) -> None:
        if self.compartments not in (1, 2, 3):
            raise PharmacologyInputError("model.compartments", "must be 1, 2 or 3")
        positive_number(self.cl_l_per_h, "model.cl_l_per_h")
        positive_number(self.v1_l, "model.v1_l")
        if self.compartments >= 2:
            positive_number(self.q2_l_per_h, "model.q2_l_per_h")
            positive_number(self.v2_l, "model.v2_l")
        if self.compartments == 3:
            positive_number(self.q3_l_per_h, "model.q3_l_per_h")
            positive_number(self.v3_l, "model.v3_l")
        if self.ke0_per_h is not None:
            positive_number(self.ke0_per_h, "model.ke0_per_h")
        if self.ka_per_h is not None:
            positive_number(self.ka_per_h, "model.ka_per_h")

    @property
    def vss_l(self) -> float:
        """Volume of distribution at steady state (L)."""
        v = self.v1_l
        if self.compartments >= 2:
            v += self.v2_l
        if self.compartments == 3:
            v += self.v3_l
        return v


def from_rate_constants_per_min(
    v1_l: float,
    k10: float,
    k12: float = 0.0,
    k21: float = 0.0,
    k13: float = 0.0,
    k31: float = 0.0,
    ke0_per_min: float | None = None,
) -> ModelParameters:
    """Convert a micro-rate-constant model (1/min, V1 in L) into clearances and volumes.

    Parameters
    ----------
    v1_l : float
        Central volume (L).
    k10, k12, k21, k13, k31 : float
        Micro rate constants (1/min), as tabulated by opentiva.
    ke0_per_min : float or None
        Effect-site rate constant (1/min).

    Returns
    -------
    ModelParameters
        ``CL = k10·V1``, ``Q2 = k12·V1``, ``V2 = V1·k12/k21`` (and likewise for 3), in L/h.
    """
    compartments = 1 + (k12 > 0) + (k13 > 0)
    return ModelParameters(
        compartments=compartments,
        cl_l_per_h=k10 * v1_l * 60.0,
        v1_l=v1_l,
        q2_l_per_h=k12 * v1_l * 60.0 if k12 > 0 else 0.0,
        v2_l=v1_l * k12 / k21 if k12 > 0 else 0.0,
        q3_l_per_h=k13 * v1_l * 60.0 if k13 > 0 else 0.0,
        v3_l=v1_l * k13 / k31 if k13 > 0 else 0.0,
        ke0_per_h=None if ke0_per_min is None else ke0_per_min * 60.0,
    )


@dataclass(frozen=True)
class ModelSpec:
    """A named published model: metadata plus the covariate equations.

    Attributes
    ----------
    name : str
        Key used in regimens (``"domino"``).
    drug : str
        ``"ketamine"`` or ``"lidocaine"``.
    title : str
        Short description.
    citation : str
        Bibliographic citation with DOI/PMID.
    population : str
        Who the model was built from.
    age_range_years, weight_range_kg : tuple of (float or None, float or None)
        Validity ranges; a covariate outside gives a warning in the result.
    requires_weight : bool
        Whether the covariate equations need ``weight_kg``.
    build : Callable[[Patient], ModelParameters]
        Covariate equations (weight in kg).
    iiv_cv : Mapping[str, float]
        Inter-individual variability as coefficient of variation, per parameter.
    iiv_source : str
        Where the CVs come from (or that they are assumptions).
    notes : str
        Caveats (transcription source, unpublished ke0, reductions).
    """

    name: str
    drug: str
    title: str
    citation: str
    population: str
    age_range_years: tuple[float | None, float | None]
    weight_range_kg: tuple[float | None, float | None]
    requires_weight: bool
    build: Callable[[Patient], ModelParameters]
    iiv_cv: Mapping[str, float] = field(default_factory=dict)
    iiv_source: str = ""
    notes: str = ""
    units: str = "time h, amount mg, volume L, clearance L/h, concentration mg/L (= mcg/mL)"
    #: How each parameter scales with weight: p(W) = p(W_ref)·(W/W_ref)^exponent. Used to
    #: vectorise populations; a test checks it reproduces ``build`` at several weights.
    weight_exponents: Mapping[str, float] = field(
        default_factory=lambda: {"cl": 1.0, "v1": 1.0, "q2": 1.0, "v2": 1.0, "q3": 1.0, "v3": 1.0}
    )

    def parameters(self, patient: Patient) -> ModelParameters:
        """Evaluate the covariate equations for ``patient``.

        Raises
        ------
        PharmacologyInputError
            ``patient.weight_kg`` is missing for a weight-based model.
        """
        if self.requires_weight and patient.weight_kg is None:
            raise PharmacologyInputError(
                "patient.weight_kg",
                f"is required by the weight-based model '{self.name}'",
            )
        return self.build(patient)

    def validity_warnings(self, patient: Patient) -> list[str]:
        """Warnings for covariates outside the model's validated ranges (or unknown)."""
        out: list[str] = []
        checks = (
            ("age_years", patient.age_years, self.age_range_years),
            ("weight_kg", patient.weight_kg, self.weight_range_kg),
        )
        for name, value, (lo, hi) in checks:
            if lo is None and hi is None:
                continue
            if value is None:
                out.append(
                    f"patient.{name} not given: cannot check it against the validity range "
                    f"of model '{self.name}'"
                )
                continue
            if (lo is not None and value < lo) or (hi is not None and value > hi):
                rng = f"{'' if lo is None else f'{lo:g}'}–{'' if hi is None else f'{hi:g}'}"
                out.append(
                    f"patient.{name} = {value:g} is outside the validity range {rng} of model "
                    f"'{self.name}' ({self.population}); predictions are extrapolations"
                )
        return out


def _weight(patient: Patient) -> float:
    assert patient.weight_kg is not None
    return patient.weight_kg


# --- ketamine ---------------------------------------------------------------------------

_OPENTIVA = (
    "Rate constants transcribed by the opentiva project (opentiva/ketamine.py) [S]; "
    "check against the original paper before clinical use."
)


def _domino(patient: Patient) -> ModelParameters:
    return from_rate_constants_per_min(
        v1_l=0.063 * _weight(patient),
        k10=0.4381,
        k12=0.5921,
        k21=0.2470,
        k13=0.5900,
        k31=0.0146,
        ke0_per_min=0.652,
    )


def _clements(patient: Patient) -> ModelParameters:
    return from_rate_constants_per_min(
        v1_l=1.7522 * _weight(patient), k10=0.0109, k12=0.0186, k21=0.0137
    )


def _hijazi(patient: Patient) -> ModelParameters:
    return from_rate_constants_per_min(
        v1_l=1.08 * _weight(patient), k10=0.0333, k12=0.0088, k21=0.0030
    )


#: Kamp 2020 meta-analysis weighted means [S]: Vd 252 L/70 kg, CL 79 L/h at 70 kg.
KAMP_VD_L_PER_70KG = 252.0
KAMP_CL_L_PER_H_AT_70KG = 79.0
#: Assumption: allometric exponent 0.75 on clearance (the meta-analysis found no covariate
#: effect; scaling is ours, not Kamp's).
KAMP_CL_ALLOMETRIC_EXPONENT = 0.75


def _kamp(patient: Patient) -> ModelParameters:
    w = _weight(patient)
    return ModelParameters(
        compartments=1,
        cl_l_per_h=KAMP_CL_L_PER_H_AT_70KG * (w / 70.0) ** KAMP_CL_ALLOMETRIC_EXPONENT,
        v1_l=KAMP_VD_L_PER_70KG * w / 70.0,
    )


# --- lidocaine --------------------------------------------------------------------------


def _lidocaine_99(patient: Patient) -> ModelParameters:
    w = _weight(patient)
    return ModelParameters(
        compartments=2,
        cl_l_per_h=0.00419 * w * 60.0,
        v1_l=0.0619 * w,
        q2_l_per_h=8.92 * 60.0,
        v2_l=187.0,
    )


_ASSUMED_CV = 0.3

MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            name="domino",
            drug="ketamine",
            title="Domino 3-compartment racemic ketamine",
            citation=(
                "Domino EF et al. Clin Pharmacol Ther 1984;36:645 [U]; opentiva cites "
                "PMID 7198883. Constants also in TCI_Ketamine [S]."
            ),
            population="adults (healthy volunteers) [U]",
            age_range_years=(18.0, None),
            weight_range_kg=(None, None),
            requires_weight=True,
            build=_domino,
            iiv_cv={
                "cl": 0.13,
                "v1": _ASSUMED_CV,
                "q2": _ASSUMED_CV,
                "v2": _ASSUMED_CV,
                "q3": _ASSUMED_CV,
                "v3": _ASSUMED_CV,
            },
            iiv_source=(
                "CL CV 13% from Fanta 2015 (S-ketamine, Eur J Clin Pharmacol 71:441, "
                "doi:10.1007/s00228-015-1826-y); all other CVs 30% (assumption)"
            ),
            notes=(
                _OPENTIVA + " V1 = 0.063 L/kg; k10 0.4381, k12 0.5921, k13 0.5900, k21 0.2470, "
                "k31 0.0146 /min. ke0 0.652 /min is opentiva's estimate from a 1-min time to "
                "peak, NOT a published value."
            ),
        ),
        ModelSpec(
            name="clements",
            drug="ketamine",
            title="Clements & Nimmo 2-compartment (250 mcg/kg bolus)",
            citation="Clements JA, Nimmo WS. Br J Anaesth 1981;53:27. doi:10.1093/bja/53.1.27",
            population="adults",
            age_range_years=(18.0, None),
            weight_range_kg=(None, None),
            requires_weight=True,
            build=_clements,
            iiv_cv={"cl": 0.13, "v1": _ASSUMED_CV, "q2": _ASSUMED_CV, "v2": _ASSUMED_CV},
            iiv_source="CL CV 13% (Fanta 2015); others 30% (assumption)",
            notes=_OPENTIVA + " V1 = 1.7522 L/kg; k10 0.0109, k12 0.0186, k21 0.0137 /min.",
        ),
        ModelSpec(
            name="hijazi",
            drug="ketamine",
            title="Hijazi 2-compartment (ICU, brain or spinal-cord injury)",
            citation="Hijazi Y et al. Br J Anaesth 2003;90:155. doi:10.1093/bja/aeg028",
            population="ICU adults with brain or spinal-cord injury",
            age_range_years=(18.0, None),
            weight_range_kg=(None, None),
            requires_weight=True,
            build=_hijazi,
            iiv_cv={"cl": 0.13, "v1": _ASSUMED_CV, "q2": _ASSUMED_CV, "v2": _ASSUMED_CV},
            iiv_source="CL CV 13% (Fanta 2015); others 30% (assumption)",
            notes=(
                _OPENTIVA + " V1 = 1.08 L/kg; k10 0.0333, k12 0.0088, k21 0.0030 /min. "
                "opentiva's age_upper = 18 looks like an error [U]; adults assumed here."
            ),
        ),
        ModelSpec(
            name="kamp",
            drug="ketamine",
            title="Kamp 2020 meta-analysis, reduced to one compartment (assumption-laden)",
            citation=(
                "Kamp J, Olofsen E, Henthorn TK, van Velzen M, Niesters M, Dahan A. "
                "Anesthesiology 2020;133:1192-1213. doi:10.1097/ALN.0000000000003577"
            ),
            population=(
                "meta-analysis of 18 studies (11 healthy adult, 3 adult patient, 5 paediatric)"
            ),
            age_range_years=(18.0, None),
            weight_range_kg=(None, None),
            requires_weight=True,
            build=_kamp,
            iiv_cv={"cl": 0.13, "v1": _ASSUMED_CV},
            iiv_source="CL CV 13% (Fanta 2015); V CV 30% (assumption)",
            weight_exponents={"cl": KAMP_CL_ALLOMETRIC_EXPONENT, "v1": 1.0},
            notes=(
                "Assumption-laden reduction: the weighted-mean Vd 252 L/70 kg is used as a single "
                "(central) volume scaled linearly with weight, and CL 79 L/h at 70 kg scaled with "
                "(WT/70)^0.75. Kamp's raw-data model (arterial central + 2 peripheral + 2 venous "
                "delay compartments) was not retrieved. A one-compartment reduction misses the "
                "distribution phase: early post-bolus concentrations are underestimated; "
                "long-infusion and terminal-phase levels are the intended use."
            ),
        ),
        ModelSpec(
            name="lidocaine_99",
            drug="lidocaine",
            title="Lidocaine 2-compartment model (99 cardiac-surgery patients, 48-h infusion)",
            citation=(
                "Population model, 48-h infusion, 99 cardiac-surgery patients (abstract via "
                "staging.scite.ai) [S]; full citation not confirmed [U]"
            ),
            population="adult cardiac-surgery patients, 48-h infusion",
            age_range_years=(18.0, None),
            weight_range_kg=(40.0, None),
            requires_weight=True,
            build=_lidocaine_99,
            iiv_cv={"cl": _ASSUMED_CV, "v1": _ASSUMED_CV, "q2": _ASSUMED_CV, "v2": _ASSUMED_CV},
            iiv_source="all CVs 30% (assumption; published IIV not retrieved)",
            weight_exponents={"cl": 1.0, "v1": 1.0, "q2": 0.0, "v2": 0.0},
            notes=(
                "V1 = 0.0619·WT L, V2 = 187 L, CL = 0.00419·WT L/min, Q = 8.92 L/min. Levels rose "
                "at a constant rate in the source (time-dependent clearance not modelled). "
                "Checked against a neuropathic-pain study (5 mg/kg over 40 min); see "
                "docs/pharmacology.md for the error."
            ),
        ),
    )
}

DEFAULT_MODEL = {"ketamine": "domino", "lidocaine": "lidocaine_99"}
DRUGS = ("ketamine", "lidocaine")


def get_model(name: str, field_path: str = "model") -> ModelSpec:
    """Look up a published model by name.

    Raises
    ------
    PharmacologyInputError
        Unknown model name (the message lists the known ones).
    """
    try:
        return MODELS[str(name).strip().lower()]
    except KeyError:
        raise PharmacologyInputError(
            field_path, f"unknown model {name!r}; known models: {', '.join(sorted(MODELS))}"
        ) from None


_CUSTOM_KEYS = (
    "compartments",
    "cl_l_per_h",
    "v1_l",
    "q2_l_per_h",
    "v2_l",
    "q3_l_per_h",
    "v3_l",
    "ke0_per_h",
    "ka_per_h",
)


def parse_custom_model(data: Mapping[str, Any], field_path: str = "model") -> ModelParameters:
    """Build :class:`ModelParameters` from a regimen's custom-model object.

    Parameters
    ----------
    data : Mapping
        ``{"compartments": 1-3, "cl_l_per_h", "v1_l", "q2_l_per_h", "v2_l", "q3_l_per_h",
        "v3_l", "ke0_per_h", "ka_per_h"}``; peripheral entries are required when
        ``compartments`` needs them.
    field_path : str
        Prefix for error messages.
    """
    for key in data:
        if key not in _CUSTOM_KEYS:
            raise PharmacologyInputError(
                f"{field_path}.{key}", f"unknown field (expected one of {list(_CUSTOM_KEYS)})"
            )
    n = data.get("compartments")
    if n not in (1, 2, 3) or isinstance(n, bool):
        raise PharmacologyInputError(f"{field_path}.compartments", "must be 1, 2 or 3")
    needed = ["cl_l_per_h", "v1_l"]
    if n >= 2:
        needed += ["q2_l_per_h", "v2_l"]
    if n == 3:
        needed += ["q3_l_per_h", "v3_l"]
    values = {k: positive_number(data.get(k), f"{field_path}.{k}") for k in needed}
    opt = {
        k: positive_number(data[k], f"{field_path}.{k}")
        for k in ("ke0_per_h", "ka_per_h")
        if data.get(k) is not None
    }
    return ModelParameters(compartments=int(n), **values, **opt)


# --- norketamine ------------------------------------------------------------------------


@dataclass(frozen=True)
class NorketamineParameters:
    """Parent → metabolite (norketamine) model; every default is overridable.

    Norketamine is a one-compartment metabolite formed from a fraction of the parent's
    systemic clearance and, after oral/sublingual dosing, from presystemic (first-pass)
    metabolism of the absorbed dose. Concentrations are reported as mg/L of norketamine
    (mass converted by the molar-mass ratio 223.70/237.73).

    Attributes
    ----------
    fraction_metabolised : float
        Fraction of ketamine's systemic clearance that forms norketamine. Default 0.8:
        **assumption** (N-demethylation to norketamine is the major pathway, Miller's
        *Anesthesia* 6th ed. [S]; the fraction itself was not found).
    half_life_h : float
        Norketamine elimination half-life, 12 h [S2] (reference section 4).
    v_l_per_kg : float
        Norketamine volume of distribution per kg. Default 200 L/70 kg ≈ 2.857 L/kg:
        **assumption** (Kamp's metabolite model, Br J Anaesth 2020;125:750, not retrieved).
    first_pass_fraction : Mapping[str, float]
        Fraction of an extravascular dose converted to norketamine before reaching the
        systemic circulation, by route. Oral and sublingual 0.36: **assumption** derived
        from Chong 2006 (F 23% for ketamine alone vs 59% counting norketamine as ketamine
        equivalents [S]); the interpretation of that difference as presystemic conversion is
        ours. Other routes 0 (assumption).
    """

    fraction_metabolised: float = 0.8
    half_life_h: float = 12.0
    v_l_per_kg: float = 200.0 / 70.0
    first_pass_fraction: Mapping[str, float] = field(
        default_factory=lambda: {"oral": 0.36, "sublingual": 0.36}
    )

    def volume_l(self, weight_kg: float) -> float:
        """Norketamine volume (L) for a patient of ``weight_kg`` (linear scaling)."""
        return self.v_l_per_kg * weight_kg

    @property
    def ke_per_h(self) -> float:
        """Elimination rate constant ln 2 / t½ (1/h)."""
        return math.log(2.0) / self.half_life_h

    @property
    def mass_ratio(self) -> float:
        """Norketamine/ketamine molar-mass ratio (mg norketamine per mg ketamine converted)."""
        return NORKETAMINE_MOLAR_MASS_G_PER_MOL / KETAMINE_MOLAR_MASS_G_PER_MOL


def parse_norketamine(data: Any, field_path: str = "norketamine") -> NorketamineParameters:
    """Parse the optional regimen ``norketamine`` object of overrides."""
    if data is None or data is True:
        return NorketamineParameters()
    if not isinstance(data, Mapping):
        raise PharmacologyInputError(field_path, "must be an object of overrides or true/false")
    allowed = {"fraction_metabolised", "half_life_h", "v_l_per_kg", "first_pass_fraction"}
    for key in data:
        if key not in allowed:
            raise PharmacologyInputError(f"{field_path}.{key}", f"unknown field {sorted(allowed)}")
    base = NorketamineParameters()
    fm = data.get("fraction_metabolised", base.fraction_metabolised)
    fm = positive_number(fm, f"{field_path}.fraction_metabolised", allow_zero=True)
    if fm > 1:
        raise PharmacologyInputError(f"{field_path}.fraction_metabolised", "must be ≤ 1")
    fpf = dict(base.first_pass_fraction)
    raw_fpf = data.get("first_pass_fraction", {})
    if not isinstance(raw_fpf, Mapping):
        raise PharmacologyInputError(f"{field_path}.first_pass_fraction", "must be an object")
    for route, value in raw_fpf.items():
        fpf[str(route)] = positive_number(
            value, f"{field_path}.first_pass_fraction.{route}", allow_zero=True
        )
    return NorketamineParameters(
        fraction_metabolised=fm,
        half_life_h=positive_number(
            data.get("half_life_h", base.half_life_h), f"{field_path}.half_life_h"
        ),
        v_l_per_kg=positive_number(
            data.get("v_l_per_kg", base.v_l_per_kg), f"{field_path}.v_l_per_kg"
        ),
        first_pass_fraction=fpf,
    )
