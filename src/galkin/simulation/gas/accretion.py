"""Gas gained or lost by a disc: misaligned accretion, infalling streams, ram pressure.

* :func:`misaligned_disc` -- a host disc plus gas that has settled on circular
  orbits in another plane (tilted 0-180 deg: polar rings, misaligned or
  counter-rotating inner or outer discs, as accreted gas ends up).
* :func:`infall` -- a gas cloud falling in with angular momentum at a random
  angle to the disc's, integrated as test particles in the host's potential for
  0.1-1.5 Gyr: streams, shells and wraps around a regular disc.
* :func:`ram_pressure` -- a disc moving through a cluster's hot gas: a wind
  acceleration ``P / Sigma`` that grows outwards as the gas surface density
  falls and beats the disc's pull beyond a stripping radius (Gunn & Gott 1972),
  integrated for 20-300 Myr; the outer gas is pushed into a one-sided tail.
"""

import numpy as np

from ..particles import _rotation
from .discs import cold_disc
from .dynamics import GYR, leapfrog

__all__ = ["misaligned_disc", "infall", "ram_pressure"]


def _tilt_about_x(angle):
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def misaligned_disc(rng, n, halo, r_scale, *, tilt_deg=None, fraction=None):
    """A host disc and a second, settled gas component in another plane.

    Parameters
    ----------
    tilt_deg : float, optional
        Angle between the two spins; drawn uniformly in cosine (0-180).
    fraction : float, optional
        Share of the gas in the second component (0.1-0.6).
    """
    tilt = np.degrees(np.arccos(rng.uniform(-1, 1))) if tilt_deg is None else tilt_deg
    fraction = rng.uniform(0.1, 0.6) if fraction is None else fraction
    n2 = int(n * fraction)
    p1, v1 = cold_disc(rng, n - n2, halo, r_scale, morphology=rng.choice(["smooth", "spiral"]))
    # the accreted gas: an inner disc or an outer ring
    inner = rng.uniform() < 0.5
    r2 = r_scale * (rng.uniform(0.2, 0.6) if inner else rng.uniform(1.0, 2.5))
    p2, v2 = cold_disc(rng, n2, halo, r2, morphology="smooth" if inner else "ring")
    spin = rng.uniform(0, 2 * np.pi)  # the line of nodes
    c, s = np.cos(spin), np.sin(spin)
    about_z = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
    rot = about_z @ _tilt_about_x(np.radians(tilt))
    return np.concatenate([p1, p2 @ rot.T]), np.concatenate([v1, v2 @ rot.T])


def infall(rng, n, halo, r_scale, *, fraction=None, duration_gyr=None, dt_gyr=0.001):
    """A host disc and an infalling gas cloud, integrated together in the host's halo.

    The cloud (a share ``fraction`` of the gas, 0.15-0.6) starts 8-30 kpc out,
    1-4 kpc across with 5-25 km/s internal dispersion, moving inwards with
    0.1-0.8 of the local circular speed as tangential velocity around an axis at
    a random angle to the disc's spin.
    """
    fraction = rng.uniform(0.15, 0.6) if fraction is None else fraction
    duration = rng.uniform(0.1, 1.5) if duration_gyr is None else duration_gyr
    n2 = int(n * fraction)
    p1, v1 = cold_disc(rng, n - n2, halo, r_scale, morphology=rng.choice(["smooth", "spiral"]))
    rot = _rotation(rng)
    start = rng.uniform(8, 30)
    v_c = np.sqrt(halo.circular_speed_sq(start))
    centre = start * rot[:, 0]
    bulk = v_c * (rng.uniform(0.1, 0.8) * rot[:, 1] - rng.uniform(0.0, 0.6) * rot[:, 0])
    p2 = centre + rng.normal(0, rng.uniform(0.5, 2.0), (n2, 3))
    v2 = bulk + rng.normal(0, rng.uniform(5, 25), (n2, 3))
    pos, vel = np.concatenate([p1, p2]), np.concatenate([v1, v2])
    [(pos, vel)] = leapfrog(
        pos, vel, lambda p, _: halo.acceleration(p), [duration * GYR], dt_gyr * GYR
    )
    return pos, vel


def ram_pressure(rng, n, halo, r_scale, *, strip_radius=None, duration_gyr=None, dt_gyr=0.001):
    """A disc under ram pressure from a wind at a random angle to its plane.

    The wind's acceleration on gas that started at radius ``R`` is the pressure
    over the gas surface density, ``a(R) = g(R_s) exp((R - R_s) / r_scale)``
    (capped at ``R - R_s = r_scale``): it equals the disc's pull
    ``g = v_c^2 / R`` at the stripping radius ``R_s`` (1.5-5 ``r_scale``), so
    gas outside it is pushed away and gas inside is only displaced. It is
    switched on over 20 Myr and acts for 20-300 Myr.
    """
    strip = r_scale * rng.uniform(1.5, 5.0) if strip_radius is None else strip_radius
    duration = rng.uniform(0.02, 0.3) if duration_gyr is None else duration_gyr
    pos, vel = cold_disc(rng, n, halo, r_scale, morphology=rng.choice(["smooth", "spiral"]))
    direction = _rotation(rng)[:, 0]
    radius0 = np.hypot(pos[:, 0], pos[:, 1])
    pull = halo.circular_speed_sq(strip) / strip
    push = pull * np.exp(np.minimum((radius0 - strip) / r_scale, 1.0))[:, None] * direction
    ramp = 0.02 * GYR

    def acceleration(p, t):
        return halo.acceleration(p) + min(t / ramp, 1.0) * push

    [(pos, vel)] = leapfrog(pos, vel, acceleration, [duration * GYR], dt_gyr * GYR)
    return pos, vel
