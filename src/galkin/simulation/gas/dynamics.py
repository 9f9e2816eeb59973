"""Potentials and a leapfrog integrator for test-particle gas.

Restricted N-body in the manner of Toomre & Toomre (1972): gas clouds are test
particles moving in the fixed potentials of one or two galaxies, whose centres
may move on their own (two-body) orbit. Units are kpc, km/s and time in
kpc / (km/s) (``GYR`` of them make a gigayear); ``G M`` is in kpc (km/s)^2, so
no gravitational constant appears.

* :class:`Halo` -- a spherical galaxy whose circular speed rises as an arctan
  (the rotation curve of :func:`galkin.simulate_cube`) and turns Keplerian
  beyond its truncation radius, so that it has a finite mass;
* :class:`Bar` -- a rotating quadrupole (Dehnen 2000) grown smoothly, for barred
  discs;
* :func:`leapfrog` -- kick-drift-kick integration of test particles in a
  time-dependent acceleration field, returning the requested snapshots.
"""

import numpy as np
from scipy.special import erf

__all__ = ["GYR", "Halo", "Bar", "leapfrog", "dynamical_friction"]

#: Time units (kpc / (km/s)) per gigayear.
GYR = 1.0 / 0.977792


class Halo:
    """A spherical galaxy with ``v_c(r) = (2 v_max / pi) arctan(r / r_turn)`` inside
    ``r_trunc`` and ``v_c^2 = v_c(r_trunc)^2 r_trunc / r`` (a point mass) beyond.

    Parameters
    ----------
    v_max : float
        Asymptotic circular speed of the arctan (km/s).
    r_turn : float
        Turnover radius (kpc).
    r_trunc : float
        Radius enclosing all the mass (kpc).
    """

    def __init__(self, v_max, r_turn, r_trunc):
        self.v_max, self.r_turn, self.r_trunc = float(v_max), float(r_turn), float(r_trunc)

    def _arctan_sq(self, r):
        return (2.0 * self.v_max / np.pi * np.arctan(r / self.r_turn)) ** 2

    def circular_speed_sq(self, r):
        """``v_c^2`` (km/s)^2 at radii ``r`` (kpc)."""
        r = np.asarray(r, dtype=float)
        inside = self._arctan_sq(np.minimum(r, self.r_trunc))
        return np.where(r < self.r_trunc, inside, inside * self.r_trunc / np.maximum(r, 1e-9))

    @property
    def gm(self):
        """``G M`` of the whole galaxy, kpc (km/s)^2."""
        return float(self._arctan_sq(self.r_trunc) * self.r_trunc)

    def acceleration(self, offset):
        """Acceleration (km/s)^2 / kpc at ``offset`` (N, 3) from the centre."""
        r2 = np.einsum("ij,ij->i", offset, offset) + 1e-12
        return -(self.circular_speed_sq(np.sqrt(r2)) / r2)[:, None] * offset

    def g_rho(self, r):
        """``G rho(r)`` (km/s / kpc)^2: ``d(r v_c^2) / dr / (4 pi r^2)``, 0 beyond ``r_trunc``."""
        r = max(float(r), 1e-6)
        if r >= self.r_trunc:
            return 0.0
        v = 2.0 * self.v_max / np.pi * np.arctan(r / self.r_turn)
        dv = 2.0 * self.v_max / np.pi * self.r_turn / (self.r_turn**2 + r**2)
        return (v * v + 2.0 * r * v * dv) / (4.0 * np.pi * r * r)


class Bar:
    """A rotating bar: Dehnen's (2000) quadrupole, grown smoothly from zero.

    ``Phi_b = A (R / r)^2 U(r) cos 2 (phi - Omega t)`` with ``U = (r / r_bar)^3 - 2``
    inside ``r_bar`` and ``-(r_bar / r)^3`` outside, ``A = -strength v_c(r_bar)^2 / 3``
    so that the bar's long axis lies along ``phi = Omega t``.

    Parameters
    ----------
    halo : Halo
        The axisymmetric galaxy it sits in (sets ``v_c(r_bar)``).
    r_bar : float
        Bar length (kpc).
    strength : float
        Ratio of the bar's to the axisymmetric radial force near ``r_bar`` (0.01-0.05).
    pattern_speed : float
        ``Omega`` in km/s/kpc (corotation just beyond ``r_bar``).
    t_grow : float
        Growth time (time units); full strength after it.
    """

    def __init__(self, halo, r_bar, strength, pattern_speed, t_grow):
        self.r_bar, self.pattern_speed, self.t_grow = float(r_bar), float(pattern_speed), t_grow
        self.amplitude = -float(strength) * float(halo.circular_speed_sq(r_bar)) / 3.0

    def _growth(self, t):
        xi = np.clip(2.0 * t / self.t_grow - 1.0, -1.0, 1.0)
        return 3 / 16 * xi**5 - 5 / 8 * xi**3 + 15 / 16 * xi + 0.5

    def potential(self, pos, t):
        """Bar potential (km/s)^2 at positions ``pos`` (N, 3) and time ``t``."""
        x, y, z = pos[:, 0], pos[:, 1], pos[:, 2]
        big_r2 = x * x + y * y
        r = np.sqrt(big_r2 + z * z) + 1e-9
        s = r / self.r_bar
        shape = np.where(s < 1, s**3 - 2.0, -(s ** (-3.0)))
        angle = 2.0 * (np.arctan2(y, x) - self.pattern_speed * t)
        return self.amplitude * self._growth(t) * big_r2 / (r * r) * shape * np.cos(angle)

    def acceleration(self, pos, t, step=1e-4):
        """Minus the gradient of :meth:`potential` (central differences)."""
        acc = np.empty_like(pos)
        for k in range(3):
            shift = np.zeros(3)
            shift[k] = step
            acc[:, k] = (self.potential(pos - shift, t) - self.potential(pos + shift, t)) / (
                2 * step
            )
        return acc


def dynamical_friction(offset, velocity, host, gm_satellite, log_lambda):
    """Chandrasekhar's drag on a satellite crossing ``host``'s (isothermal-like) halo.

    ``a = -4 pi G rho G M ln(Lambda) / v^3 [erf X - 2 X exp(-X^2) / sqrt(pi)] v`` with
    ``X = v / (sqrt 2 sigma)`` and ``sigma = v_c / sqrt 2`` (Binney & Tremaine Eq. 8.7).
    """
    r = float(np.linalg.norm(offset))
    v = float(np.linalg.norm(velocity))
    g_rho = host.g_rho(r)
    if g_rho == 0.0 or v < 1e-6:
        return np.zeros(3)
    x = v / np.sqrt(host.circular_speed_sq(r))
    factor = erf(x) - 2.0 * x * np.exp(-x * x) / np.sqrt(np.pi)
    return -4.0 * np.pi * g_rho * gm_satellite * log_lambda * factor / v**3 * velocity


def leapfrog(positions, velocities, acceleration, times, dt):
    """Integrate test particles and return snapshots at ``times``.

    Parameters
    ----------
    positions, velocities : `numpy.ndarray`, shape ``(N, 3)``
        Initial state at time 0.
    acceleration : callable
        ``acceleration(positions, t)`` -> ``(N, 3)``.
    times : sequence of float
        Snapshot times (time units, increasing, >= 0).
    dt : float
        Step.

    Returns
    -------
    list of tuple
        ``(positions, velocities)`` copies at each time in ``times``.
    """
    pos, vel = np.array(positions, dtype=float), np.array(velocities, dtype=float)
    t, out = 0.0, []
    acc = acceleration(pos, t)
    for target in times:
        n_steps = int(np.ceil((target - t) / dt - 1e-9))
        for _ in range(max(n_steps, 0)):
            h = min(dt, target - t)
            vel += 0.5 * h * acc
            pos += h * vel
            t += h
            acc = acceleration(pos, t)
            vel += 0.5 * h * acc
        out.append((pos.copy(), vel.copy()))
    return out
