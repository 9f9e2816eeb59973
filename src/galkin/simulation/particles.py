"""Particle galaxies with known circularity, and how a telescope sees them.

:func:`random_galaxy` draws a gas-particle galaxy of one of eight kinds, spanning
``kappa`` ~ 0.1 to ~ 1 (thesis Eq. 2.1): cold gas discs (``sigma / v`` = 0.03-0.3,
``kappa`` ~ 0.8-1) and turbulent thick discs (0.3-1.2, ``kappa`` ~ 0.35-0.85), each
as thick as vertical equilibrium makes it (``h / R ~ sigma / v``);
dispersion-dominated spheres (spin below 0.7 ``sigma``; isotropic, ``kappa`` ~ 1/3,
to radially biased by inflow or outflow, ``kappa`` ~ 0.15); and disturbed systems
(mergers of two discs at different orientations, tidal tails, offset clumps,
minor counter-rotating and warped components). Since ``kappa = 0.5`` is
``v / sigma = 1`` for isotropic dispersion, the thick discs straddle the boundary.
Counter-rotating components are ordered rotation, so Eq. 2.1 (which squares
``j_z / R``) calls them regular whatever their mass. The family stands in for
the EAGLE galaxies of thesis §2.2.2, which galkin cannot download. Gas is drawn
in clouds whose random velocities are mostly shared, so that turbulence survives
beam averaging in the moment-one map as it does for clumpy simulated gas.

:func:`observe` turns a galaxy into a moment-one map as thesis §2.2.3 did with
KinMS. Noiseless maps come from mass-weighted 2-D histograms of ``M0`` and
``M0 * v`` convolved with the beam (exact for moments: ``M1 = (B * M0v) / (B * M0)``).
With ``snr`` the particles are binned into a (v, y, x) cube, convolved, given
noise by Eq. 2.2, smooth-masked (Dame 2011) and then collapsed.

Frame conventions follow :mod:`galkin.simulation.simulate`: the galaxy frame has ``L``
along +z; ``x`` becomes the receding major axis; PA is east of north to the
receding side; the image has north = +y and east = -x.
"""

from dataclasses import dataclass

import numpy as np
from astropy import units as u
from scipy import ndimage

from ..exceptions import GalkinError
from ..io.masking import smooth_mask
from ..units import KM_S, as_value
from .circularity import circularity, rotate_to_angular_momentum

__all__ = ["ParticleGalaxy", "GALAXY_KINDS", "random_galaxy", "observe"]

_FWHM_TO_SIGMA = 1.0 / np.sqrt(8.0 * np.log(2.0))
#: The kinds :func:`random_galaxy` draws from.
GALAXY_KINDS = ("disc", "thick", "sphere", "merger", "tidal", "clump", "counter", "warp")


@dataclass
class ParticleGalaxy:
    """Gas particles of one galaxy.

    Attributes
    ----------
    positions : `~astropy.units.Quantity`, shape ``(N, 3)``
        kpc.
    velocities : `~astropy.units.Quantity`, shape ``(N, 3)``
        km/s.
    masses : `~astropy.units.Quantity`, shape ``(N,)``
        Solar masses.
    kind : str
        How it was made (one of ``GALAXY_KINDS``, or ``"eagle"``).
    """

    positions: u.Quantity
    velocities: u.Quantity
    masses: u.Quantity
    kind: str = "custom"

    @property
    def kappa(self):
        """Circularity (thesis Eq. 2.1)."""
        return circularity(
            self.positions.to_value(u.kpc), self.velocities.to_value(KM_S), self.masses.value
        )


def _rotation(rng):
    """A uniformly random 3-D rotation matrix."""
    q = rng.normal(size=4)
    a, b, c, d = q / np.linalg.norm(q)
    return np.array(
        [
            [a * a + b * b - c * c - d * d, 2 * (b * c - a * d), 2 * (b * d + a * c)],
            [2 * (b * c + a * d), a * a - b * b + c * c - d * d, 2 * (c * d - a * b)],
            [2 * (b * d - a * c), 2 * (c * d + a * b), a * a - b * b - c * c + d * d],
        ]
    )


def _clouds(rng, n, draw, sigma):
    """Particles in gas clouds: positions around cloud centres drawn by ``draw(k)``, and
    random velocities mostly shared within a cloud (total dispersion ``sigma``), so
    that turbulence survives beam averaging as it does in clumpy simulated gas."""
    n_clouds = max(n // int(rng.integers(10, 60)), 5)
    which = rng.integers(n_clouds, size=n)
    pos = draw(n_clouds)[which] + rng.normal(0, rng.uniform(0.2, 0.8), (n, 3))
    shared = rng.normal(0, 0.9 * sigma, (n_clouds, 3))[which]
    return pos, shared + rng.normal(0, np.sqrt(1 - 0.81) * sigma, (n, 3))


def _disc(rng, n, r_scale, v_max, sigma, height, spin=1.0):
    """Exponential disc of clouds, arctan rotation curve, isotropic dispersion."""

    def draw(k):
        radius, phi = rng.gamma(2.0, r_scale, k), rng.uniform(0, 2 * np.pi, k)
        return np.stack([radius * np.cos(phi), radius * np.sin(phi), rng.laplace(0, height, k)], 1)

    pos, v_rand = _clouds(rng, n, draw, sigma)
    radius = np.hypot(pos[:, 0], pos[:, 1]) + 1e-9
    v_rot = spin * (2 * v_max / np.pi) * np.arctan(radius / (0.3 * r_scale)) / radius
    return pos, np.stack([-v_rot * pos[:, 1], v_rot * pos[:, 0], np.zeros(n)], 1) + v_rand


def _sphere(rng, n, r_scale, sigma, v_rot=0.0, beta=0.0):
    """Plummer-like sphere of clouds, optional solid-body spin and radial anisotropy.

    ``beta = 1 - sigma_t^2 / sigma_r^2`` > 0 puts more of the random motion into
    radial inflow and outflow, as in gas falling in or driven out by feedback; an
    isotropic sphere (``beta = 0``) has ``kappa`` = 1/3, a radially biased one less.
    """

    def draw(k):
        radius = r_scale / np.sqrt(rng.uniform(0.01, 1.0, k) ** (-2 / 3) - 1 + 1e-3)
        direc = rng.normal(size=(k, 3))
        return (
            np.minimum(radius, 8 * r_scale)[:, None]
            * direc
            / np.linalg.norm(direc, axis=1, keepdims=True)
        )

    pos, v_rand = _clouds(rng, n, draw, sigma)
    # keep the total dispersion: sigma^2 = (sigma_r^2 + 2 sigma_t^2) / 3
    s_r = np.sqrt(3 / (3 - 2 * beta))
    s_t = s_r * np.sqrt(1 - beta)
    unit = pos / (np.linalg.norm(pos, axis=1, keepdims=True) + 1e-9)
    radial = np.sum(v_rand * unit, axis=1, keepdims=True) * unit
    v_rand = s_r * radial + s_t * (v_rand - radial)
    rcyl = np.hypot(pos[:, 0], pos[:, 1]) + 1e-9
    spin = v_rot * np.tanh(rcyl / r_scale) / rcyl
    return pos, np.stack([-spin * pos[:, 1], spin * pos[:, 0], np.zeros(n)], 1) + v_rand


def _two_discs(rng, n, r_scale, v_max, sigma, separation, tilt=None, spin2=1.0, v_rel=0.0):
    # a counter-rotating component (spin2 < 0) is a minor one, as observed in gas discs
    n1 = int(n * (rng.uniform(0.7, 0.9) if spin2 < 0 else rng.uniform(0.4, 0.75)))
    p1, v1 = _disc(rng, n1, r_scale, v_max, sigma, 0.1 * r_scale)
    p2, v2 = _disc(rng, n - n1, r_scale * rng.uniform(0.4, 1.0), v_max, sigma, 0.1, spin2)
    rot = _rotation(rng) if tilt is None else tilt
    offset = separation * rng.normal(size=3) / np.sqrt(3)
    bulk = v_rel * rng.normal(size=3) / np.sqrt(3)
    return np.concatenate([p1, p2 @ rot.T + offset]), np.concatenate([v1, v2 @ rot.T + bulk])


def _tilt(angle):
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def _make(kind, rng, n):
    r_scale = rng.uniform(1.5, 5.0)
    v_max = rng.uniform(80, 320)
    if kind in ("disc", "thick"):
        # a cold gas disc (sigma / v = 0.03-0.3) or a turbulent, thick one (0.3-1.2);
        # either way thin or thick as vertical equilibrium demands, h / R ~ sigma / v
        ratio = rng.uniform(0.03, 0.3) if kind == "disc" else rng.uniform(0.3, 1.2)
        height = r_scale * min(ratio * rng.uniform(0.5, 1.5), 1.0)
        return _disc(rng, n, r_scale, v_max, v_max * ratio, height)
    if kind == "sphere":
        # dispersion dominated: spin at most 0.7 sigma, isotropic to radially biased
        sigma = rng.uniform(30, 200)
        return _sphere(rng, n, r_scale, sigma, sigma * rng.uniform(0, 0.7), rng.uniform(0, 0.8))
    if kind == "merger":
        return _two_discs(
            rng,
            n,
            r_scale,
            v_max,
            v_max * rng.uniform(0.05, 0.4),
            rng.uniform(2, 15),
            None,
            1.0,
            rng.uniform(0, 250),
        )
    if kind == "counter":
        return _two_discs(
            rng, n, r_scale, v_max, v_max * rng.uniform(0.03, 0.3), 0.0, np.eye(3), -1
        )
    if kind == "warp":
        pos, vel = _disc(rng, n, r_scale, v_max, v_max * rng.uniform(0.03, 0.3), 0.1 * r_scale)
        rcyl = np.hypot(pos[:, 0], pos[:, 1])
        angle = rng.uniform(0.2, 1.3) * np.clip((rcyl - r_scale) / (2 * r_scale), 0, 1)
        c, s = np.cos(angle), np.sin(angle)
        y, z, vy, vz = pos[:, 1], pos[:, 2], vel[:, 1], vel[:, 2]
        pos[:, 1], pos[:, 2] = c * y - s * z, s * y + c * z
        vel[:, 1], vel[:, 2] = c * vy - s * vz, s * vy + c * vz
        return pos, vel
    n_extra = int(n * rng.uniform(0.2, 0.6))
    pos, vel = _disc(rng, n - n_extra, r_scale, v_max, v_max * rng.uniform(0.03, 0.4), 0.3)
    if kind == "tidal":
        t = rng.uniform(0, 1, n_extra)
        ang = rng.uniform(0, 2 * np.pi) + 2.5 * t
        rad = r_scale * (1 + 5 * t)
        tail = np.stack([rad * np.cos(ang), rad * np.sin(ang), rng.uniform(-1, 1) * rad * t], 1)
        tail_vel = tail / rad[:, None] * v_max * rng.uniform(0.3, 1.5)
        p2, v2 = tail + rng.normal(0, 0.5, tail.shape), tail_vel + rng.normal(0, 20, tail.shape)
    elif kind == "clump":
        centre = rng.normal(size=3) * r_scale * rng.uniform(1.0, 3.0)
        p2 = centre + rng.normal(0, rng.uniform(0.5, 2.0), (n_extra, 3))
        v2 = rng.normal(size=3) * v_max * rng.uniform(0.3, 1.2) + rng.normal(0, 30, (n_extra, 3))
    else:
        raise GalkinError(f"Unknown galaxy kind {kind!r}; choose from {GALAXY_KINDS}.")
    return np.concatenate([pos, p2]), np.concatenate([vel, v2])


def random_galaxy(kind=None, *, n_particles=4000, seed=None):
    """Draw one particle galaxy, centred and rotated so that its ``L`` is +z.

    Parameters
    ----------
    kind : str, optional
        One of ``GALAXY_KINDS``; drawn at random when omitted.
    n_particles : int, optional
    seed : int or `numpy.random.Generator`, optional

    Returns
    -------
    ParticleGalaxy
        Total gas mass 1e10 Msun, split equally between particles.
    """
    rng = np.random.default_rng(seed)
    kind = kind or GALAXY_KINDS[rng.integers(len(GALAXY_KINDS))]
    if kind not in GALAXY_KINDS:
        raise GalkinError(f"Unknown galaxy kind {kind!r}; choose from {GALAXY_KINDS}.")
    pos, vel = _make(kind, rng, int(n_particles))
    pos, vel = rotate_to_angular_momentum(pos, vel)
    mass = np.full(len(pos), 1e10 / len(pos))
    return ParticleGalaxy(pos * u.kpc, vel * KM_S, mass * u.Msun, kind)


def _sky(galaxy, incl, pa):
    """Sky offsets (east, north) in kpc and line-of-sight velocity (km/s, receding > 0)."""
    pos, vel = galaxy.positions.to_value(u.kpc), galaxy.velocities.to_value(KM_S)
    si, ci = np.sin(incl), np.cos(incl)
    x_sky, y_sky = pos[:, 0], pos[:, 1] * ci - pos[:, 2] * si
    v_los = vel[:, 1] * si + vel[:, 2] * ci
    sp, cp = np.sin(pa), np.cos(pa)
    return x_sky * sp + y_sky * cp, x_sky * cp - y_sky * sp, v_los


def observe(
    galaxy,
    *,
    inclination,
    position_angle,
    beam=3 * u.arcsec,
    field=64 * u.arcsec,
    size=64,
    scale=1 * u.kpc / u.arcsec,
    snr=None,
    detection=5e-3,
    channel_width=10 * KM_S,
    seed=None,
):
    """Moment-one map of a particle galaxy (thesis §2.2.3-2.2.4).

    Parameters
    ----------
    galaxy : ParticleGalaxy
    inclination, position_angle : `~astropy.units.Quantity`
        Viewing angles; PA east of north to the receding side.
    beam : `~astropy.units.Quantity`, optional
        FWHM of the circular beam.
    field : `~astropy.units.Quantity`, optional
        Side of the square field of view.
    size : int, optional
        Pixels per side.
    scale : `~astropy.units.Quantity`, optional
        Physical size per arcsec (kpc/arcsec), i.e. the distance.
    snr : float, optional
        Peak signal-to-noise of Eq. 2.2; None for a noiseless map.
    detection : float, optional
        Noiseless maps are blank where the beam-smoothed surface density is
        below this fraction of its peak (a sensitivity limit).
    channel_width : `~astropy.units.Quantity`, optional
        Channel width of the cube built when ``snr`` is given.
    seed : int or `numpy.random.Generator`, optional
        Noise seed.

    Returns
    -------
    `~astropy.units.Quantity`
        ``(size, size)`` moment-one map in km/s about the centre-of-mass
        velocity, NaN where there is no (detected) emission.
    """
    incl = np.radians(as_value(inclination, "inclination", u.deg, scalar=True))
    pa = np.radians(as_value(position_angle, "position_angle", u.deg, scalar=True))
    pix = as_value(field, "field", u.arcsec, scalar=True) / size
    sigma_px = as_value(beam, "beam", u.arcsec, scalar=True) * _FWHM_TO_SIGMA / pix
    kpc = as_value(scale, "scale", u.kpc / u.arcsec, scalar=True)
    east, north, v_los = _sky(galaxy, incl, pa)
    mass = galaxy.masses.to_value(u.Msun)
    ix = np.floor((size - 1) / 2 - east / kpc / pix + 0.5).astype(int)
    iy = np.floor((size - 1) / 2 + north / kpc / pix + 0.5).astype(int)
    inside = (ix >= 0) & (ix < size) & (iy >= 0) & (iy < size)
    flat = iy[inside] * size + ix[inside]
    if snr is None:
        m0 = np.bincount(flat, mass[inside], size * size).reshape(size, size)
        m0v = np.bincount(flat, (mass * v_los)[inside], size * size).reshape(size, size)
        m0, m0v = ndimage.gaussian_filter(m0, sigma_px), ndimage.gaussian_filter(m0v, sigma_px)
        detected = m0 > float(detection) * m0.max()
        return np.where(detected, m0v / np.where(detected, m0, 1.0), np.nan) * KM_S
    dv = as_value(channel_width, "channel_width", KM_S, scalar=True)
    half = np.abs(v_los).max() + 3 * dv
    edges = np.arange(-half, half + dv, dv)
    iv = np.clip(np.digitize(v_los[inside], edges) - 1, 0, len(edges) - 2)
    cube = np.bincount(iv * size * size + flat, mass[inside], (len(edges) - 1) * size * size)
    cube = ndimage.gaussian_filter(cube.reshape(-1, size, size), (0, sigma_px, sigma_px))
    peaks = cube.max(axis=(1, 2))
    noise = peaks[peaks > 1e-3 * peaks.max()].mean() / float(snr)  # Eq. 2.2
    cube = cube + np.random.default_rng(seed).normal(0, noise, cube.shape)
    mask, _ = smooth_mask(cube, fwhm_px=sigma_px / _FWHM_TO_SIGMA, nsigma=4.0)
    masked = np.where(mask, cube, 0.0)
    m0 = masked.sum(axis=0)
    centres = 0.5 * (edges[1:] + edges[:-1])
    detected = (mask.sum(axis=0) > 0) & (m0 > 0)
    m1 = np.einsum("vyx,v->yx", masked, centres) / np.where(detected, m0, 1.0)
    return np.where(detected, m1, np.nan) * KM_S
