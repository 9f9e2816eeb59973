"""The star-forming gas population the CAE learns from, and how ALMA sees it.

:func:`random_gas_galaxy` draws one galaxy of ten kinds (``GAS_KINDS``):

* regular rotators, whatever their looks -- cold discs (dispersion 5-40 km/s)
  smooth, spiral, flocculent, ringed, holed or lopsided (``"disc"``); barred
  (``"bar"``); warped (``"warp"``); with a settled misaligned or
  counter-rotating component (``"misaligned"``);
* physically simulated disturbances -- restricted N-body flybys (``"flyby"``) and
  mergers with dynamical friction (``"merger"``), an infalling gas cloud
  (``"infall"``), ram-pressure stripping (``"stripped"``);
* turbulent, slowly rotating dwarfs (``"dwarf"``, ``v_max`` 20-90 km/s) and
  dispersion-dominated gas (``"disordered"``).

As in the thesis's EAGLE selection (§2.2.2) a galaxy is its gas within 30 kpc
of the host's centre, with more than 200 particles, centred and rotated so
that its angular momentum is +z; ``kappa`` (Eq. 2.1) is computed from the
particles. :func:`random_view` draws the conditions of one observation: any
inclination and position angle, a beam of 2.5-7 pixels, a galaxy 2.5-40 beams
across (at most 100 pixels) in a field 1.2-1.8 times larger, and a detection
threshold (noiseless) or noise (S/N) that makes the patchy, partly blank maps
of real CO observations.
"""

import numpy as np
from astropy import units as u

from ...exceptions import GalkinError
from ...units import KM_S
from ..circularity import rotate_to_angular_momentum
from ..particles import ParticleGalaxy, _sphere
from . import accretion
from .discs import MORPHOLOGIES, barred_disc, cold_disc, random_halo, warped_disc
from .encounters import APERTURE_KPC, encounter

__all__ = ["GAS_KINDS", "random_gas_galaxy", "random_view"]

#: The kinds :func:`random_gas_galaxy` draws from, equally often.
GAS_KINDS = (
    "disc",
    "bar",
    "warp",
    "misaligned",
    "flyby",
    "merger",
    "infall",
    "stripped",
    "dwarf",
    "disordered",
)
#: Fewer particles inside the aperture and the galaxy is drawn again (thesis: 200).
MIN_PARTICLES = 200


def _make(kind, rng, n):
    if kind in ("flyby", "merger"):
        log_lambda = 0.0 if kind == "flyby" else rng.uniform(1.0, 4.0)
        offset = rng.uniform(-0.2, 0.3) if kind == "flyby" else rng.uniform(-0.1, 2.0)
        [(pos, vel)] = encounter(rng, n, log_lambda=log_lambda, offsets_gyr=[offset])
        return pos, vel
    if kind == "dwarf":
        r_scale = rng.uniform(0.5, 2.0)
        halo, _ = random_halo(rng, v_max=rng.uniform(20, 90), r_scale=r_scale)
        morphology = rng.choice(["smooth", "flocculent", "holed", "lopsided"])
        return cold_disc(rng, n, halo, r_scale, sigma=rng.uniform(8, 35), morphology=morphology)
    if kind == "disordered":
        sigma = rng.uniform(15, 80)
        return _sphere(
            rng, n, rng.uniform(0.5, 3.0), sigma, sigma * rng.uniform(0, 0.7), rng.uniform(0, 0.8)
        )
    halo, r_scale = random_halo(rng)
    if kind == "disc":
        return cold_disc(rng, n, halo, r_scale, morphology=rng.choice(MORPHOLOGIES))
    if kind == "bar":
        return barred_disc(rng, n, halo, r_scale)
    if kind == "warp":
        return warped_disc(rng, n, halo, r_scale)
    if kind == "misaligned":
        return accretion.misaligned_disc(rng, n, halo, r_scale)
    if kind == "infall":
        return accretion.infall(rng, n, halo, r_scale)
    return accretion.ram_pressure(rng, n, halo, r_scale)


def random_gas_galaxy(kind=None, *, n_particles=4000, seed=None):
    """Draw one star-forming gas galaxy of the population.

    Parameters
    ----------
    kind : str, optional
        One of ``GAS_KINDS``; drawn at random when omitted.
    n_particles : int, optional
        Gas particles before the aperture cut.
    seed : int or `numpy.random.Generator`, optional

    Returns
    -------
    `~galkin.simulation.particles.ParticleGalaxy`
        Total gas mass 1e10 Msun, split equally between the particles kept.
    """
    rng = np.random.default_rng(seed)
    kind = kind or GAS_KINDS[rng.integers(len(GAS_KINDS))]
    if kind not in GAS_KINDS:
        raise GalkinError(f"Unknown gas galaxy kind {kind!r}; choose from {GAS_KINDS}.")
    for _ in range(20):
        pos, vel = _make(kind, rng, int(n_particles))
        inside = np.linalg.norm(pos, axis=1) < APERTURE_KPC
        if inside.sum() > MIN_PARTICLES:
            break
    else:  # pragma: no cover - every kind keeps most of its gas
        raise GalkinError(f"Could not draw a {kind!r} galaxy with gas inside the aperture.")
    pos, vel = rotate_to_angular_momentum(pos[inside], vel[inside])
    mass = np.full(len(pos), 1e10 / len(pos))
    return ParticleGalaxy(pos * u.kpc, vel * KM_S, mass * u.Msun, kind)


def random_view(rng, galaxy, *, snr=None):
    """Keyword arguments for :func:`~galkin.simulation.particles.observe` of one view.

    Parameters
    ----------
    rng : `numpy.random.Generator`
    galaxy : `~galkin.simulation.particles.ParticleGalaxy`
    snr : float, optional
        Peak S/N of Eq. 2.2 (a cube is made, noise added and smooth-masked);
        without it the map is noiseless and blank below a detection threshold
        of 0.5-20% of the peak beam-smoothed surface density.

    Returns
    -------
    dict
        ``inclination``, ``position_angle``, ``beam``, ``field``, ``size``,
        ``scale``, ``snr``, ``detection`` and ``channel_width``.
    """
    radius = np.percentile(np.linalg.norm(galaxy.positions.to_value(u.kpc), axis=1), 98)
    beam_px = rng.uniform(2.5, 7.0)
    beams_across = min(np.exp(rng.uniform(np.log(2.5), np.log(40.0))), 100.0 / beam_px)
    across_px = beams_across * beam_px
    size = int(np.clip(np.ceil(across_px * rng.uniform(1.2, 1.8)), 16, 160))
    return {
        "inclination": rng.uniform(5, 85) * u.deg,
        "position_angle": rng.uniform(0, 360) * u.deg,
        "beam": beam_px * u.arcsec,
        "field": size * u.arcsec,
        "size": size,
        "scale": 2 * radius / across_px * u.kpc / u.arcsec,
        "snr": snr,
        "detection": float(np.exp(rng.uniform(np.log(0.005), np.log(0.2)))),
        "channel_width": rng.uniform(5, 30) * KM_S,
    }
