"""Cold, star-forming gas discs: smooth, spiral, flocculent, ringed, holed, lopsided, barred.

Molecular gas lives in clouds, so a disc is drawn as clouds (positions from the
chosen morphology, shared random velocities) and particles inside each cloud.
The gas circles in the potential of a :class:`~galkin.simulation.gas.dynamics.Halo`
with a velocity dispersion of 5-40 km/s (cold gas), as thick as vertical
equilibrium makes it. The morphologies change where the gas *is* -- which is
what turns a detection threshold into a patchy map -- and add the ordered
non-circular motions real discs have (spiral streaming from linear density-wave
theory; oval flows in a bar from test-particle orbits in a rotating bar,
integrated by :func:`~galkin.simulation.gas.dynamics.leapfrog`); the gas stays
a regular rotator (``kappa`` ~ 0.8-1).
"""

import numpy as np

from .dynamics import GYR, Bar, Halo, leapfrog

__all__ = ["MORPHOLOGIES", "cold_disc", "barred_disc", "warped_disc", "random_halo"]

#: Disc morphologies :func:`cold_disc` draws.
MORPHOLOGIES = ("smooth", "spiral", "flocculent", "ring", "holed", "lopsided")


def random_halo(rng, v_max=None, r_scale=None):
    """A host :class:`Halo` and its gas scale length ``(halo, r_scale)``."""
    r_scale = rng.uniform(1.0, 4.0) if r_scale is None else r_scale
    v_max = rng.uniform(60, 320) if v_max is None else v_max
    halo = Halo(v_max, max(r_scale * rng.uniform(0.1, 0.8), 0.3), r_scale * rng.uniform(15, 30))
    return halo, r_scale


def _cloud_centres(rng, k, r_scale, morphology):
    """``(R, phi, arms)`` of ``k`` cloud centres; ``arms`` is ``(m, pitch, phase)`` or None."""
    radius = rng.gamma(2.0, r_scale / 1.5, k)
    phi = rng.uniform(0, 2 * np.pi, k)
    arms = None
    if morphology == "spiral":
        arms = (int(rng.integers(1, 5)), np.radians(rng.uniform(10, 35)), rng.uniform(0, 2 * np.pi))
        m, pitch, phase = arms
        on_arm = rng.uniform(size=k) < rng.uniform(0.6, 0.95)
        arm_phi = (
            phase
            + 2 * np.pi * rng.integers(m, size=k) / m
            + np.log(np.maximum(radius, 0.05) / r_scale) / np.tan(pitch)
            + rng.normal(0, rng.uniform(0.05, 0.25), k)
        )
        phi = np.where(on_arm, arm_phi, phi)
    elif morphology == "ring":
        centre = r_scale * rng.uniform(0.5, 2.5)
        radius = np.abs(rng.normal(centre, centre * rng.uniform(0.08, 0.35), k))
    elif morphology == "holed":
        radius = r_scale * rng.uniform(0.3, 1.5) + rng.gamma(2.0, r_scale / 1.5, k)
        # and a few off-centre holes, as feedback blows them in real discs
        for _ in range(int(rng.integers(0, 5))):
            cx, cy = rng.normal(0, 1.5 * r_scale, 2)
            size = r_scale * rng.uniform(0.2, 0.8)
            inside = np.hypot(radius * np.cos(phi) - cx, radius * np.sin(phi) - cy) < size
            radius[inside] += 2 * size
    elif morphology == "lopsided":
        # an m = 1 mode: cloud azimuths drawn from 1 + a cos(phi) by rejection
        amp = rng.uniform(0.3, 0.9)
        trial = rng.uniform(0, 2 * np.pi, 4 * k)
        trial = trial[rng.uniform(size=4 * k) < (1 + amp * np.cos(trial)) / (1 + amp)]
        phi = np.resize(trial, k)
    return radius, phi, arms


def cold_disc(rng, n, halo, r_scale, *, sigma=None, morphology="smooth", streaming=None):
    """Gas particles of a cold disc in ``halo``, spin along +z.

    Parameters
    ----------
    rng : `numpy.random.Generator`
    n : int
        Particles.
    halo : `~galkin.simulation.gas.dynamics.Halo`
    r_scale : float
        Scale length of the cloud distribution (kpc).
    sigma : float, optional
        Velocity dispersion (km/s); drawn from 5-40 when omitted.
    morphology : str, optional
        One of ``MORPHOLOGIES``.
    streaming : float, optional
        Spiral streaming amplitude (km/s) for ``"spiral"``; drawn from 5-25.

    Returns
    -------
    positions, velocities : `numpy.ndarray`, shape ``(n, 3)``
        kpc and km/s.
    """
    sigma = rng.uniform(5, 40) if sigma is None else sigma
    flocculent = morphology == "flocculent"
    per_cloud = rng.integers(40, 200) if flocculent else rng.integers(8, 60)
    k = max(int(n // per_cloud), 6)
    radius, phi, arms = _cloud_centres(rng, k, r_scale, morphology)
    v_c = np.sqrt(halo.circular_speed_sq(np.maximum(radius, 1e-3)))
    height = np.clip(sigma / np.maximum(v_c, 1.0), 0.02, 0.5) * np.maximum(radius, 0.3 * r_scale)
    centres = np.stack(
        [radius * np.cos(phi), radius * np.sin(phi), rng.laplace(0, 1, k) * 0.5 * height], 1
    )
    # cloud masses are log-normal: a few giant complexes, many small clouds
    weights = rng.lognormal(0, 1.0 if flocculent else 0.6, k)
    which = rng.choice(k, size=n, p=weights / weights.sum())
    size = r_scale * rng.uniform(0.04, 0.15) * (2.0 if flocculent else 1.0)
    pos = centres[which] + rng.normal(0, size, (n, 3)) * [1, 1, 0.3]
    big_r = np.hypot(pos[:, 0], pos[:, 1]) + 1e-9
    v_phi = np.sqrt(halo.circular_speed_sq(np.hypot(big_r, pos[:, 2])))
    cos, sin = pos[:, 0] / big_r, pos[:, 1] / big_r
    v_r = np.zeros(n)
    if arms is not None:
        # linear density-wave streaming: radial and tangential waves in the arm phase
        m, pitch, phase = arms
        amp = rng.uniform(5, 25) if streaming is None else streaming
        chi = m * (np.arctan2(sin, cos) - phase) - m * np.log(big_r / r_scale) / np.tan(pitch)
        v_r += amp * np.cos(chi)
        v_phi = v_phi + 0.7 * amp * np.sin(chi)
    shared = rng.normal(0, 0.8 * sigma, (k, 3))[which]
    random = shared + rng.normal(0, 0.6 * sigma, (n, 3))
    vel = np.stack([v_r * cos - v_phi * sin, v_r * sin + v_phi * cos, np.zeros(n)], 1)
    return pos, vel + random


def barred_disc(rng, n, halo, r_scale, *, sigma=None, strength=None):
    """A cold disc whose inner gas has orbited a rotating bar for several bar periods.

    The bar (length 0.5-2 ``r_scale``, corotation at 1.2 bar lengths, strength
    0.01-0.04) grows over two bar rotations and is then left for one to three
    more; the test-particle gas shows the oval streaming and the S-shaped
    isovelocity twist of a real bar (the gas is collisionless here, so there are
    no shocks).

    Returns
    -------
    positions, velocities : `numpy.ndarray`, shape ``(n, 3)``
        In the inertial frame, spin along +z.
    """
    morphology = rng.choice(["smooth", "spiral", "ring", "flocculent"])
    pos, vel = cold_disc(rng, n, halo, r_scale, sigma=sigma, morphology=morphology)
    r_bar = r_scale * rng.uniform(0.5, 2.0)
    corotation = 1.2 * r_bar
    omega = np.sqrt(halo.circular_speed_sq(corotation)) / corotation
    strength = rng.uniform(0.01, 0.04) if strength is None else strength
    period = 2 * np.pi / omega
    bar = Bar(halo, r_bar, strength, omega, t_grow=2 * period)
    t_end = period * rng.uniform(3.0, 5.0)
    dt = min(period / 200, 0.002 * GYR)

    def acceleration(p, t):
        return halo.acceleration(p) + bar.acceleration(p, t)

    [(pos, vel)] = leapfrog(pos, vel, acceleration, [t_end], dt)
    return pos, vel


def warped_disc(rng, n, halo, r_scale, *, sigma=None):
    """A cold disc whose outer parts tilt progressively (0.2-1.3 rad by 3 ``r_scale``)."""
    morphology = rng.choice(["smooth", "spiral", "flocculent"])
    pos, vel = cold_disc(rng, n, halo, r_scale, sigma=sigma, morphology=morphology)
    radius = np.hypot(pos[:, 0], pos[:, 1])
    start = r_scale * rng.uniform(0.5, 2.0)
    angle = rng.uniform(0.2, 1.3) * np.clip((radius - start) / (2 * r_scale), 0, 1)
    c, s = np.cos(angle), np.sin(angle)
    y, z, vy, vz = pos[:, 1].copy(), pos[:, 2].copy(), vel[:, 1].copy(), vel[:, 2].copy()
    pos[:, 1], pos[:, 2] = c * y - s * z, s * y + c * z
    vel[:, 1], vel[:, 2] = c * vy - s * vz, s * vy + c * vz
    return pos, vel
