"""Independent reference: integrate the compartment ODEs with scipy (LSODA, rtol 1e-10, unless
the caller asks for another method or tolerance).

Each expanded administration gets its own absorption depot, so this implementation shares
no code path with the closed-form solver beyond input expansion.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.integrate import solve_ivp

from painclinic.pharmacology.models import ModelParameters, NorketamineParameters
from painclinic.pharmacology.regimen import Input


def reference(
    params: ModelParameters,
    inputs: list[Input],
    times: np.ndarray,
    *,
    norketamine: NorketamineParameters | None = None,
    weight_kg: float | None = None,
    method: str = "LSODA",
    rtol: float = 1e-10,
    atol: float = 1e-14,
) -> dict[str, np.ndarray]:
    """Return plasma, effect (if ke0) and metabolite (if norketamine) concentrations."""
    n = params.compartments
    v1 = params.v1_l
    k10 = params.cl_l_per_h / v1
    k12 = params.q2_l_per_h / v1 if n >= 2 else 0.0
    k21 = params.q2_l_per_h / params.v2_l if n >= 2 else 0.0
    k13 = params.q3_l_per_h / v1 if n == 3 else 0.0
    k31 = params.q3_l_per_h / params.v3_l if n == 3 else 0.0
    ke0 = params.ke0_per_h
    nd = len(inputs)
    i_ce = 3
    i_am = 4
    i_dep = 5
    size = 5 + nd
    if norketamine is not None:
        assert weight_kg is not None
        km = math.log(2) / norketamine.half_life_h
        vm = norketamine.v_l_per_kg * weight_kg
        mr = norketamine.mass_ratio
        fm = norketamine.fraction_metabolised
    else:
        km = vm = mr = fm = 0.0

    def rates_at(t: float) -> tuple[float, np.ndarray]:
        central = 0.0
        depot = np.zeros(nd)
        for k, inp in enumerate(inputs):
            if inp.duration_h > 0 and inp.start_h <= t < inp.start_h + inp.duration_h:
                if inp.entry == "central":
                    central += inp.rate_mg_per_h
                else:
                    depot[k] += inp.rate_mg_per_h
        return central, depot

    ka = np.array([inp.ka_per_h for inp in inputs])
    f = np.array([inp.bioavailability for inp in inputs])
    fpm = np.array([inp.first_pass_fraction for inp in inputs])
    is_depot = np.array([inp.entry == "depot" for inp in inputs])

    # the system is linear: dx/dt = A x + u(t), with u piecewise constant
    a = np.zeros((size, size))
    a[0, 0] = -(k10 + k12 + k13)
    a[0, 1], a[0, 2] = k21, k31
    a[1, 0], a[1, 1] = k12, -k21
    a[2, 0], a[2, 2] = k13, -k31
    a[i_ce, 0], a[i_ce, i_ce] = (ke0 or 0.0) / v1, -(ke0 or 0.0)
    a[i_am, 0], a[i_am, i_am] = fm * mr * k10, -km
    for k in range(nd):
        if is_depot[k]:
            d = i_dep + k
            a[d, d] = -ka[k]
            a[0, d] = f[k] * ka[k]
            a[i_am, d] = mr * fpm[k] * ka[k]

    def rhs(t: float, x: np.ndarray, u: np.ndarray) -> np.ndarray:
        return a @ x + u

    def jac(t: float, x: np.ndarray, u: np.ndarray) -> np.ndarray:
        return a

    breaks = {float(times[0]), float(times[-1])}
    for inp in inputs:
        breaks.add(inp.start_h)
        if inp.duration_h > 0:
            breaks.add(inp.start_h + inp.duration_h)
    bps = sorted(b for b in breaks if b <= times[-1])
    lo = min(bps[0], float(times[0]))
    bps = sorted(set([lo, *bps]))
    x = np.zeros(size)
    out = np.zeros((size, times.size))
    for j, ta in enumerate(bps):
        for k, inp in enumerate(inputs):
            if inp.duration_h == 0 and inp.start_h == ta:
                if inp.entry == "central":
                    x[0] += inp.amount_mg
                else:
                    x[i_dep + k] += inp.amount_mg
        last = j == len(bps) - 1
        tb = bps[j + 1] if not last else ta
        mask = (times >= ta) & ((times < tb) if not last else (times <= tb))
        if last:
            out[:, mask] = x[:, None]
            break
        central, depot = rates_at(0.5 * (ta + tb))
        u = np.zeros(size)
        u[0] = central
        u[i_dep:] = depot
        t_eval = np.append(times[mask], tb)
        sol = solve_ivp(
            rhs,
            (ta, tb),
            x,
            method=method,
            rtol=rtol,
            atol=atol,
            t_eval=t_eval,
            args=(u,),
            jac=jac if method in ("Radau", "BDF", "LSODA") else None,
        )
        assert sol.success, sol.message
        out[:, mask] = sol.y[:, :-1]
        x = sol.y[:, -1].copy()
    res = {"plasma": out[0] / v1}
    if ke0 is not None:
        res["effect"] = out[i_ce]
    if norketamine is not None:
        res["metabolite"] = out[i_am] / vm
    return res
