"""One exception hierarchy for the pharmacology core.

Every error raised for bad input is a :class:`PharmacologyInputError`, a subclass of
:class:`ValueError`, and carries ``.field``: the dotted path of the offending input
(for example ``doses[2].duration_h``). The message always names the field, so the CLI
can print it unchanged and exit with status 2.
"""

from __future__ import annotations


class PharmacologyInputError(ValueError):
    """Bad input to the pharmacology core; ``field`` is the dotted path of the culprit.

    Parameters
    ----------
    field : str
        Dotted path of the input at fault, e.g. ``"patient.weight_kg"``.
    message : str
        Human-readable explanation; the field name is prefixed automatically.
    """

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.detail = message
        super().__init__(f"{field}: {message}" if field else message)


class NeuraxialRouteError(PharmacologyInputError):
    """Intrathecal or epidural dosing was requested; there is no validated human PK.

    The message also warns that preservative-containing ketamine (chlorobutanol or
    benzethonium chloride) is neurotoxic (Miller's *Anesthesia*, 6th ed. [S]).
    """

    def __init__(self, field: str, route: str) -> None:
        super().__init__(
            field,
            f"route '{route}' is refused: no validated human neuraxial (intrathecal/epidural) "
            "pharmacokinetic model exists, so no concentration can be predicted. Warning: "
            "preservative-containing ketamine (chlorobutanol or benzethonium chloride) is "
            "neurotoxic; subarachnoid use is contraindicated and epidural use is probably unwise.",
        )


class DrugLibraryError(PharmacologyInputError):
    """The drug library file is malformed; ``field`` points into the JSON document."""
