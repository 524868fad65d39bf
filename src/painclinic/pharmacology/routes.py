"""Routes of administration and per-drug defaults for bioavailability, absorption and lag.

Bioavailability values are from the clinical reference, section 4 ("Ketamine:
bioavailability by route"). **The reference gives no absorption rate constants or lag
times**: every default ``ka_per_h`` and ``lag_h`` below is an *assumption*, flagged as such
in each simulation's warnings, and should be overridden per dose when better data exist.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Route(enum.Enum):
    """Supported routes. Neuraxial routes exist only so that they can be refused clearly."""

    IV_BOLUS = "iv_bolus"
    IV_INFUSION = "iv_infusion"
    ORAL = "oral"
    SUBLINGUAL = "sublingual"
    INTRANASAL = "intranasal"
    INTRAMUSCULAR = "intramuscular"
    SUBCUTANEOUS = "subcutaneous"
    RECTAL = "rectal"
    TRANSDERMAL = "transdermal"
    INTRATHECAL = "intrathecal"
    EPIDURAL = "epidural"


NEURAXIAL = frozenset({Route.INTRATHECAL, Route.EPIDURAL})
INTRAVENOUS = frozenset({Route.IV_BOLUS, Route.IV_INFUSION})
#: Routes whose dose enters an absorption depot (first-order absorption with lag and F).
FIRST_ORDER = frozenset(
    {
        Route.ORAL,
        Route.SUBLINGUAL,
        Route.INTRANASAL,
        Route.INTRAMUSCULAR,
        Route.SUBCUTANEOUS,
        Route.RECTAL,
    }
)


@dataclass(frozen=True)
class RouteDefaults:
    """Default absorption parameters of one drug by one route.

    Attributes
    ----------
    bioavailability : float
        Fraction F reaching the systemic circulation as parent drug.
    ka_per_h : float or None
        First-order absorption rate constant (1/h); None for zero-order routes.
    lag_h : float
        Absorption lag (h).
    source : str
        Where F comes from (tagged [S]/[S2]/[U]/assumption).
    ka_is_assumption : bool
        True when ``ka_per_h``/``lag_h`` are assumptions (all of them, at present).
    """

    bioavailability: float
    ka_per_h: float | None
    lag_h: float
    source: str
    ka_is_assumption: bool = True


_KA = "ka and lag: assumption (the clinical reference gives none)"

#: Per-drug route defaults. Lidocaine is given intravenously only in this programme.
ROUTE_DEFAULTS: dict[str, dict[Route, RouteDefaults]] = {
    "ketamine": {
        Route.IV_BOLUS: RouteDefaults(1.0, None, 0.0, "intravenous", False),
        Route.IV_INFUSION: RouteDefaults(1.0, None, 0.0, "intravenous", False),
        Route.ORAL: RouteDefaults(
            0.20, 1.0, 0.25, f"F 0.20: Yanagihara 2003 [S] (Chong 2006: 0.23 ± 0.09 [S]); {_KA}"
        ),
        Route.SUBLINGUAL: RouteDefaults(
            0.30, 2.0, 0.0, f"F 0.30: Yanagihara 2003 [S] (Chong 2006 0.32, Rolan 2014 0.29); {_KA}"
        ),
        Route.RECTAL: RouteDefaults(0.30, 1.5, 0.0, f"F 0.30: Yanagihara 2003 [S]; {_KA}"),
        Route.INTRANASAL: RouteDefaults(
            0.45,
            4.0,
            0.0,
            "F 0.45: Yanagihara 2003 [S]; PMC9118341 found 0.11-0.17 (formulation-dependent, "
            f"override F per dose); {_KA}",
        ),
        Route.INTRAMUSCULAR: RouteDefaults(
            0.93, 6.0, 0.0, f"F 0.93: [S2], primary usually Clements 1982 [U]; {_KA}"
        ),
        Route.SUBCUTANEOUS: RouteDefaults(
            0.93,
            3.0,
            0.0,
            "F 0.93: assumption, SC taken equal to IM (no human F; rat SC ≈ IM exposure, "
            f"PMID 29895202 [S]); {_KA}",
        ),
        Route.TRANSDERMAL: RouteDefaults(
            1.0,
            None,
            0.0,
            "zero-order release over the wear time; amount_mg is the amount released "
            "(e.g. 25 mg over 24 h, Zanos 2018 [S]); F 1.0 of the released amount: assumption",
        ),
    },
    "lidocaine": {
        Route.IV_BOLUS: RouteDefaults(1.0, None, 0.0, "intravenous", False),
        Route.IV_INFUSION: RouteDefaults(1.0, None, 0.0, "intravenous", False),
    },
}


def parse_route(value: object) -> Route | None:
    """Return the :class:`Route` named by ``value`` or None if unknown."""
    if isinstance(value, Route):
        return value
    try:
        return Route(str(value).strip().lower())
    except ValueError:
        return None
