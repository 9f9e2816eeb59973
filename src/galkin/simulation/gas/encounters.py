"""Galaxy encounters and mergers as restricted N-body (Toomre & Toomre 1972).

Two galaxies (:class:`~galkin.simulation.gas.dynamics.Halo` potentials, the
satellite ``q`` times the host's mass, ``v_max ~ q^(1/4)`` and sizes
``~ q^(1/2)``) move on their mutual orbit -- parabolic or bound, with a
pericentre of 3-30 kpc -- integrated with Chandrasekhar dynamical friction
(``ln Lambda`` from 0, a flyby, to 4, a quick merger). Each carries a cold gas
disc of test particles (:func:`~galkin.simulation.gas.discs.cold_disc`), the
satellite's at a random orientation; the gas feels both moving potentials.
Snapshots from before the first pericentre to 2 Gyr after it show two discs,
bridges and tidal tails, and merger remnants with the gas of both galaxies
mixed at different orientations. As in EAGLE (thesis §2.2.2), a snapshot is
the gas within 30 kpc of the host's centre.
"""

import numpy as np
from scipy.integrate import solve_ivp

from ..particles import _rotation
from .discs import cold_disc, random_halo
from .dynamics import GYR, Halo, dynamical_friction, leapfrog

__all__ = ["encounter", "APERTURE_KPC"]

#: Radius (kpc) around the host's centre inside which gas belongs to the galaxy.
APERTURE_KPC = 30.0


def _relative_orbit(host, satellite, r0, v0, t_end, log_lambda):
    """Dense solution of the separation ``r = x_sat - x_host`` and its velocity."""
    q = satellite.gm / host.gm

    def rhs(_, state):
        r_vec, v_vec = state[:3], state[3:]
        r = np.linalg.norm(r_vec) + 1e-9
        # symmetrised mutual force of two extended bodies (exact when both are Keplerian)
        a_r = 0.5 * (
            host.circular_speed_sq(r) * (1 + q) + satellite.circular_speed_sq(r) * (1 + 1 / q)
        )
        acc = -a_r / r * r_vec / r
        if log_lambda > 0:
            acc = acc + dynamical_friction(r_vec, v_vec, host, satellite.gm, log_lambda)
            acc = acc + dynamical_friction(r_vec, v_vec, satellite, host.gm, log_lambda)
        return np.concatenate([v_vec, acc])

    def coalesced(_, state):  # the centres have met: a merger, from then on one galaxy
        return np.linalg.norm(state[:3]) - max(1.0, 0.5 * host.r_turn)

    coalesced.terminal = True
    sol = solve_ivp(
        rhs,
        (0.0, t_end),
        np.concatenate([r0, v0]),
        dense_output=True,
        events=coalesced,
        method="LSODA",
        rtol=1e-6,
        atol=1e-6,
    )
    t_stop = sol.t[-1]

    def state(t):
        return sol.sol(t) if t <= t_stop else np.zeros(6)

    return state


def _initial_orbit(rng, gm_total, pericentre, eccentricity, r_start):
    """Position and velocity on an incoming Keplerian orbit at separation ``r_start``."""
    p = pericentre * (1 + eccentricity)
    if eccentricity < 1:
        r_start = min(r_start, 0.95 * p / (1 - eccentricity))
    cos_f = np.clip((p / r_start - 1) / eccentricity, -1, 1)
    sin_f = np.sqrt(1 - cos_f**2)
    h = np.sqrt(gm_total * p)
    v_radial, v_tangential = -h / p * eccentricity * sin_f, h / r_start
    rot = _rotation(rng)  # the orbital plane at a random orientation to the host's disc
    return r_start * rot[:, 0], v_radial * rot[:, 0] + v_tangential * rot[:, 1]


def encounter(rng, n, *, mass_ratio=None, log_lambda=None, offsets_gyr=None, dt_gyr=0.001):
    """Gas snapshots of an encounter between a host and a satellite galaxy.

    Parameters
    ----------
    rng : `numpy.random.Generator`
    n : int
        Gas particles in both discs together.
    mass_ratio : float, optional
        Satellite / host mass; drawn log-uniformly from 0.05-1.
    log_lambda : float, optional
        Coulomb logarithm of the dynamical friction; 0 for none. Drawn from 0-4.
    offsets_gyr : sequence of float, optional
        Snapshot times relative to the first pericentre (Gyr); two drawn from
        -0.2-2 when omitted.
    dt_gyr : float, optional
        Integration step.

    Returns
    -------
    list of tuple
        ``(positions, velocities)`` in kpc and km/s per snapshot, of the gas
        within ``APERTURE_KPC`` of the host's centre, in the host's rest frame.
    """
    q = np.exp(rng.uniform(np.log(0.05), 0.0)) if mass_ratio is None else mass_ratio
    log_lambda = rng.uniform(0, 4) if log_lambda is None else log_lambda
    host, r_scale = random_halo(rng)
    satellite = Halo(host.v_max * q**0.25, max(host.r_turn * q**0.5, 0.3), host.r_trunc * q**0.5)
    gm = host.gm + satellite.gm
    pericentre = rng.uniform(3, 30)
    eccentricity = rng.uniform(0.6, 1.0)
    r0, v0 = _initial_orbit(rng, gm, pericentre, eccentricity, rng.uniform(40, 80))
    offsets = rng.uniform(-0.2, 2.0, 2) if offsets_gyr is None else np.asarray(offsets_gyr)
    # time of the first pericentre, from the orbit itself
    horizon = 3.0 * GYR
    orbit = _relative_orbit(host, satellite, r0, v0, horizon + offsets.max() * GYR, log_lambda)
    grid = np.linspace(0, horizon, 3000)
    sep = np.array([np.linalg.norm(orbit(t)[:3]) for t in grid])
    turning = np.flatnonzero((sep[1:-1] <= sep[:-2]) & (sep[1:-1] <= sep[2:]))
    t_peri = grid[turning[0] + 1] if turning.size else grid[np.argmin(sep)]
    times = np.sort(np.clip(t_peri + offsets * GYR, 0.0, None))
    w_host, w_sat = satellite.gm / gm, host.gm / gm

    def centres(t):
        state = orbit(t)
        return -w_host * state[:3], w_sat * state[:3], -w_host * state[3:], w_sat * state[3:]

    gas_share = rng.uniform(0.1, 0.5) * min(1.0, 2 * q**0.5)
    n_sat = int(n * gas_share)
    p1, v1 = cold_disc(rng, n - n_sat, host, r_scale, morphology="smooth")
    p2, v2 = cold_disc(rng, n_sat, satellite, r_scale * q**0.5, morphology="smooth")
    rot = _rotation(rng)
    x1, x2, u1, u2 = centres(0.0)
    pos = np.concatenate([p1 + x1, p2 @ rot.T + x2])
    vel = np.concatenate([v1 + u1, v2 @ rot.T + u2])

    def acceleration(p, t):
        c1, c2, *_ = centres(t)
        return host.acceleration(p - c1) + satellite.acceleration(p - c2)

    out = []
    for (p, v), t in zip(leapfrog(pos, vel, acceleration, times, dt_gyr * GYR), times, strict=True):
        c1, _, u1, _ = centres(t)
        p, v = p - c1, v - u1
        inside = np.linalg.norm(p, axis=1) < APERTURE_KPC
        out.append((p[inside], v[inside]))
    return out
