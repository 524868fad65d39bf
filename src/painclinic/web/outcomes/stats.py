"""Small statistics for the outcome dashboard (pure Python, no Django)."""

from __future__ import annotations

import math
from statistics import NormalDist


def wilson_interval(
    successes: int, trials: int, confidence: float = 0.95
) -> tuple[float, float] | None:
    """Wilson score interval for a binomial proportion.

    Parameters
    ----------
    successes : int
        Number of successes ``k`` (here: responders), ``0 <= k <= n``.
    trials : int
        Number of trials ``n`` (patients assessed); ``None`` is returned when it is 0.
    confidence : float
        Two-sided confidence level (0.95 for a 95% interval).

    Returns
    -------
    tuple of float or None
        ``(lower, upper)`` as proportions in [0, 1]; ``None`` when ``trials`` is 0.

    Notes
    -----
    With ``p = k / n`` and ``z`` the ``(1 + confidence) / 2`` normal quantile::

        centre = (2 n p + z^2) / (2 (n + z^2))
        half   = z sqrt(4 n p (1 - p) + z^2) / (2 (n + z^2))

    The lower bound is 0 when ``k = 0`` and the upper bound 1 when ``k = n``.

    References
    ----------
    Wilson EB (1927), J Am Stat Assoc 22:209-212; Newcombe RG (1998), Stat Med 17:857-872
    (method 3).
    """
    if not 0 <= successes <= trials:
        raise ValueError("successes must be between 0 and trials")
    if not 0 < confidence < 1:
        raise ValueError("confidence must be between 0 and 1")
    if trials == 0:
        return None
    n = float(trials)
    p = successes / n
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    denom = 2 * (n + z * z)
    centre = (2 * n * p + z * z) / denom
    half = z * math.sqrt(4 * n * p * (1 - p) + z * z) / denom
    lower = 0.0 if successes == 0 else max(0.0, centre - half)
    upper = 1.0 if successes == trials else min(1.0, centre + half)
    return lower, upper


def median(values: list[float]) -> float | None:
    """Median of ``values`` (mean of the two middle ones for an even count); None if empty."""
    if not values:
        return None
    ordered = sorted(values)
    mid = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[mid]
    return (ordered[mid - 1] + ordered[mid]) / 2
