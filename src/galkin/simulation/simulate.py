"""Mock spectral cubes of rotating gas discs with known parameters.

:func:`simulate_cube` builds a cube the way KinMS does (Davis et al. 2013): a
Monte-Carlo cloud of particles drawn from the disc's density, each given a
line-of-sight velocity, binned into (velocity, y, x) cells, convolved channel by
channel with the beam, and optionally seeded with Gaussian noise (thesis Eq. 2.2).
It deliberately shares no code with galkin's analytic decoder, so that a fit of
a simulated cube is an independent test of the model.

Conventions (galkin-wide)
-------------------------
* Disc frame ``(x_d, y_d, z_d)``, ``x_d`` along the receding half of the major
  axis. Sky plane: ``x = x_d``, ``y = y_d cos i - z_d sin i``; depth
  ``s = y_d sin i + z_d cos i`` (away from the observer).
* ``v_los = V(R) (x_d / R) sin i + v_sys`` plus isotropic Gaussian dispersion.
* Position angle: east of north to the receding side of the major axis. The
  image has north = +y and east = -x (``CDELT1 < 0``), so PA = 90 deg puts the
  receding side on the left.
"""

import numbers

import numpy as np
from astropy import constants as const
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.wcs import WCS
from radio_beam import Beam
from scipy.signal import fftconvolve

from ..exceptions import GalkinError
from ..units import KM_S, as_value
from .equivalent import equivalent_parameters, gas_radius, radial_grid
from .noise import add_noise, beam_kernel
from .rotation_curves import Arctan, as_rotation_curve
from .rotation_curves import Tabulated as TabulatedCurve
from .surface_density import Exponential, as_surface_density
from .surface_density import Tabulated as TabulatedDensity

__all__ = ["simulate_cube", "beam_kernel"]

_C_KMS = const.c.to_value(KM_S)
_HI_LINE = 1.420405751768 * u.GHz
_JY_KMS = u.Jy * KM_S


def _positive(value, name, unit, *, allow_zero=False, allow_none=False):
    out = as_value(value, name, unit, scalar=True, allow_none=allow_none)
    if out is not None and not (out > 0 or (allow_zero and out == 0)):
        bound = "non-negative" if allow_zero else "positive"
        raise GalkinError(f"{name} must be {bound}; got {value}.")
    return out


def _as_beam(beam):
    if beam is None or isinstance(beam, Beam):
        return beam
    fwhm = _positive(beam, "beam", u.arcsec)
    return Beam(major=fwhm * u.arcsec, minor=fwhm * u.arcsec, pa=0 * u.deg)


def _as_count(value, name, minimum=1):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise GalkinError(f"{name} must be an integer >= {minimum}; got {value!r}.")
    return int(value)


def _channels(channel_width, n_channels, v_sys, half_width):
    """Channel width (km/s) and centres, symmetric about ``v_sys``."""
    if channel_width is None:
        fortieth = 2.0 * half_width / 40.0  # ~40 channels across the line, 0.5 km/s steps
        channel_width = float(np.clip(np.round(2.0 * fortieth) / 2.0, 5.0, 10.0))
    if n_channels is None:
        n_line = max(int(np.ceil(2.0 * half_width / channel_width)), 4)
        n_channels = n_line + 2 * int(np.ceil(n_line / 2))  # >= 25% line-free each side
    velocities = v_sys + (np.arange(n_channels) - (n_channels - 1) / 2.0) * channel_width
    return channel_width, velocities


def _wcs(shape, center, pixel_scale, sky_center, velocities, dv, spectral_axis, rest_freq_hz):
    ny, nx = shape
    w = WCS(naxis=3)
    w.wcs.ctype = ["RA---SIN", "DEC--SIN", "VRAD" if spectral_axis == "velocity" else "FREQ"]
    w.wcs.cunit = ["deg", "deg", "m/s" if spectral_axis == "velocity" else "Hz"]
    w.wcs.crpix = [center[0] + 1.0, center[1] + 1.0, 1.0]
    w.wcs.cdelt[:2] = [-pixel_scale / 3600.0, pixel_scale / 3600.0]
    w.wcs.crval[:2] = [sky_center.ra.deg, sky_center.dec.deg]
    if spectral_axis == "velocity":
        w.wcs.crval[2], w.wcs.cdelt[2] = velocities[0] * 1e3, dv * 1e3
    else:  # radio convention: nu = nu0 (1 - v / c), linear in v
        w.wcs.crval[2] = rest_freq_hz * (1.0 - velocities[0] / _C_KMS)
        w.wcs.cdelt[2] = -rest_freq_hz * dv / _C_KMS
    w.wcs.restfrq = rest_freq_hz
    w.wcs.specsys = "LSRK"
    w.wcs.radesys = "ICRS"
    w.pixel_shape = (nx, ny, velocities.size)
    return w


def _spectral_cube_class():
    """Import `~spectral_cube.SpectralCube` lazily (keeps ``import galkin`` light)."""
    from ..io.cube import SpectralCube

    return SpectralCube


def _table(value, name, unit_y, hint):
    """A ``(radius, value)`` pair of 1-D Quantities: radii in arcsec, increasing."""
    if not (isinstance(value, (tuple, list)) and len(value) == 2):
        raise GalkinError(f"{name} must be a pair (radius, values) of Quantities, e.g. {hint}.")
    r = np.atleast_1d(as_value(value[0], f"{name}[0]", u.arcsec)).astype(float)
    y = np.atleast_1d(as_value(value[1], f"{name}[1]", unit_y)).astype(float)
    if r.ndim != 1 or r.shape != y.shape or r.size < 2 or np.any(np.diff(r) <= 0) or r[0] < 0:
        raise GalkinError(
            f"{name} needs at least two increasing, non-negative radii and one value per "
            f"radius, e.g. {hint}."
        )
    if np.any(y < 0) or not np.any(y > 0):
        raise GalkinError(f"{name} values must be non-negative and not all zero, e.g. {hint}.")
    return r, y


def _interpolator(r, y, unit, *, outside):
    """``f(R)`` of an arcsec Quantity: ``y`` linear between radii ``r``, ``outside`` beyond."""

    def function(radius):
        out = np.interp(radius.to_value(u.arcsec), r, y, left=y[0], right=outside)
        return out if unit is None else out * unit

    return function


def simulate_cube(
    *,
    inclination,
    position_angle,
    v_max=None,
    r_turn=None,
    r_scale=None,
    shape=(64, 64),
    pixel_scale=1 * u.arcsec,
    beam=2.5 * u.arcsec,
    snr=None,
    correlated_noise=False,
    dispersion=10 * KM_S,
    scale_height=None,
    surface_density="exponential",
    rotation_curve="arctan",
    outer_radius=None,
    systemic_velocity=0 * KM_S,
    channel_width=None,
    n_channels=None,
    spectral_axis="velocity",
    rest_frequency=_HI_LINE,
    center=None,
    seed=None,
    n_particles=1_000_000,
    sky_center=None,
    total_flux=10 * _JY_KMS,
):
    """Simulate the spectral cube of a rotating gas disc.

    By default particles follow an exponential surface density (radii drawn from
    Gamma(2, ``r_scale``)), uniform azimuth and an exponential vertical profile
    (thesis Eq. 3.3). They rotate on cylinders with the arctan curve
    ``V(R) = (2 v_max / pi) arctan(R / r_turn)`` (thesis Eq. 3.4), plus isotropic
    Gaussian ``dispersion``. ``surface_density`` and ``rotation_curve`` choose
    other shapes (rings, holes, arms, clumps; rising, flat, peaked-then-declining
    curves). See the module docstring for the geometry.

    Parameters
    ----------
    inclination : `~astropy.units.Quantity`
        Disc inclination, 0 (face-on) to 90 deg (edge-on).
    position_angle : `~astropy.units.Quantity`
        East of north to the receding side of the major axis.
    v_max : `~astropy.units.Quantity`
        Amplitude of the rotation curve (the arctan's asymptote); needed by every
        named curve, not by a callable one.
    r_turn : `~astropy.units.Quantity`
        Turnover radius of the rotation curve (angle); as ``v_max``.
    r_scale : `~astropy.units.Quantity`
        Exponential scale length (angle); the unit of the lengths a named surface
        density or a ``"disc_halo"`` curve leaves unset. Required unless
        ``surface_density`` is a table.
    shape : tuple of int, optional
        ``(ny, nx)`` pixels of each channel map.
    pixel_scale : `~astropy.units.Quantity`, optional
        Angular size of a (square) pixel.
    beam : `~astropy.units.Quantity` or `radio_beam.Beam` or None, optional
        FWHM of a circular beam, or an elliptical beam (PA east of north);
        None for no convolution (the cube is then in Jy/pix).
    snr : float or None, optional
        Signal-to-noise ratio of thesis Eq. 2.2: the noise sigma is the mean,
        over channels with line emission, of each channel's peak, divided by
        ``snr``. None gives a noiseless cube.
    correlated_noise : bool, optional
        Correlate the noise over the beam, as in interferometer cubes: its
        spatial autocorrelation is the beam (`galkin.simulation.noise.add_noise`),
        its rms per voxel the same. Default: white noise. Needs a beam.
    dispersion : `~astropy.units.Quantity`, optional
        Isotropic velocity dispersion (one-dimensional sigma).
    scale_height : `~astropy.units.Quantity`, optional
        Exponential scale height of the disc; default ``0.1 * r_scale``.
    surface_density : str, `~galkin.simulation.surface_density.SurfaceDensity` or callable, optional
        ``"exponential"`` (default), ``"ring"``, ``"hole"``, ``"spiral"``,
        ``"clumpy"`` (:data:`~galkin.simulation.surface_density.SURFACE_DENSITIES`,
        lengths in units of ``r_scale``), an instance with chosen parameters
        (they compose: ``Clumpy(Spiral(Ring(radius=10 * u.arcsec)))``), a
        callable ``Sigma(R)`` of an arcsec Quantity, or a table ``(radius,
        density)`` of Quantities (density in any unit, relative; linear between
        the points and zero beyond the last -- e.g. gas in rings; then without
        ``r_scale``).
    rotation_curve : str, `~galkin.simulation.rotation_curves.RotationCurve` or callable, optional
        ``"arctan"`` (default), ``"courteau"``, ``"polyex"``, ``"disc_halo"``
        (:data:`~galkin.simulation.rotation_curves.ROTATION_CURVES`), an
        instance with chosen shape parameters, a callable ``V(R)`` of an
        arcsec Quantity that returns a velocity Quantity, or a table ``(radius,
        speed)`` of Quantities (linear between the points, V(0) = 0, constant
        beyond the last -- e.g. a curve that rises, peaks and declines; then
        without ``v_max`` and ``r_turn``).
    outer_radius : `~astropy.units.Quantity`, optional
        Edge of the gas disc: no gas beyond this radius (default: none).
    systemic_velocity : `~astropy.units.Quantity`, optional
        Radio-convention velocity of the centre.
    channel_width : `~astropy.units.Quantity`, optional
        Default: about a fortieth of the line width, rounded to 0.5 km/s and
        kept within 5-10 km/s.
    n_channels : int, optional
        Default: the line (``v_sys +- (V_peak sin i + 4 dispersion)``) plus a
        line-free margin of a quarter of the channels on each side.
    spectral_axis : {"velocity", "frequency"}, optional
        ``VRAD`` in m/s, or ``FREQ`` in Hz (radio convention, ``RESTFRQ`` set).
    rest_frequency : `~astropy.units.Quantity`, optional
        Rest frequency of the line; HI 21 cm by default.
    center : tuple of float or `~astropy.units.Quantity`, optional
        ``(x, y)`` 0-based pixel of the disc centre (numbers or ``u.pix``);
        default the map centre.
    seed : int or `numpy.random.Generator`, optional
        Seeds the particles and the noise; the same seed gives the same cube.
    n_particles : int, optional
        Number of Monte-Carlo particles.
    sky_center : `~astropy.coordinates.SkyCoord`, optional
        Sky position of ``center``; default RA = 150 deg, Dec = +2 deg.
    total_flux : `~astropy.units.Quantity`, optional
        Integrated line flux of the disc (Jy km/s); surface densities other than
        the exponential are sampled out to ``outer_radius`` or three times the
        map's half-diagonal.

    Returns
    -------
    `~spectral_cube.SpectralCube`
        Brightness in Jy/beam (Jy/pix without beam). ``cube.meta["galkin_truth"]``
        holds the parameters as Quantities, with the ``center`` in pixels and
        the ``noise_rms``, and ``"equivalent"``: the ``r_scale``, ``v_max`` and
        ``r_turn`` of the exponential disc and arctan curve closest to the true
        profiles (:mod:`galkin.simulation.equivalent`; the inputs themselves for
        an exponential disc and an arctan curve).

    Examples
    --------
    >>> from astropy import units as u
    >>> from galkin.simulation.simulate import simulate_cube
    >>> cube = simulate_cube(inclination=60 * u.deg, position_angle=90 * u.deg,
    ...                      v_max=200 * u.km / u.s, r_turn=3 * u.arcsec,
    ...                      r_scale=6 * u.arcsec, shape=(32, 32),
    ...                      n_particles=20_000, seed=1)
    >>> cube.shape
    (87, 32, 32)
    >>> cube.unit, cube.beam.major
    (Unit("Jy / beam"), <Quantity 2.5 arcsec>)
    >>> truth = cube.meta["galkin_truth"]
    >>> truth["inclination"], truth["channel_width"]
    (<Quantity 60. deg>, <Quantity 10. km / s>)

    A ring on a rotation curve that peaks and declines, with interferometer noise:

    >>> ring = simulate_cube(inclination=50 * u.deg, position_angle=30 * u.deg,
    ...                      v_max=180 * u.km / u.s, r_turn=4 * u.arcsec,
    ...                      r_scale=5 * u.arcsec, surface_density="ring",
    ...                      rotation_curve="disc_halo", snr=10, correlated_noise=True,
    ...                      shape=(32, 32), n_particles=20_000, seed=1)
    >>> eq = ring.meta["galkin_truth"]["equivalent"]
    >>> sorted(eq)
    ['r_scale', 'r_turn', 'radius', 'v_max']
    """
    incl = as_value(inclination, "inclination", u.deg, scalar=True)
    if not 0.0 <= incl <= 90.0:
        raise GalkinError(f"inclination must lie in [0, 90] deg; got {inclination}.")
    pa = as_value(position_angle, "position_angle", u.deg, scalar=True) % 360.0
    tables = {}
    if isinstance(rotation_curve, (tuple, list)):
        if v_max is not None or r_turn is not None:
            raise GalkinError("pass either rotation_curve= or v_max= and r_turn=, not both.")
        r, v = _table(
            rotation_curve,
            "rotation_curve",
            KM_S,
            "([2, 10, 30] * u.arcsec, [150, 200, 170] * u.km / u.s)",
        )
        r, v = np.concatenate([[0.0], r]), np.concatenate([[0.0], v])
        tables["curve_radius_arcsec"], tables["curve_v_kms"] = r.tolist(), v.tolist()
        rotation_curve = TabulatedCurve(_interpolator(r, v, KM_S, outside=v[-1]))
        v_max = float(v.max()) * KM_S
    if isinstance(surface_density, (tuple, list)):
        if r_scale is not None:
            raise GalkinError("pass either surface_density= or r_scale=, not both.")
        r, sigma = _table(
            surface_density,
            "surface_density",
            u.one,
            "([0, 5, 10, 15] * u.arcsec, [0, 1, 0.2, 0] * u.one)",
        )
        tables["density_radius_arcsec"], tables["density"] = r.tolist(), sigma.tolist()
        surface_density = TabulatedDensity(_interpolator(r, sigma, None, outside=0.0))
        r_scale = 0.25 * float(r[-1]) * u.arcsec  # the default thickness only
    if r_scale is None:
        raise GalkinError(
            "simulate_cube needs a surface density: r_scale= (an exponential's scale length, "
            "and the unit of the named shapes), or surface_density=(radius, density)."
        )
    density = as_surface_density(surface_density)
    curve = as_rotation_curve(rotation_curve)
    for name, value in (("v_max", v_max), ("r_turn", r_turn)):
        if value is None and name in curve.uses:
            raise GalkinError(
                f"{name} is required for rotation_curve={curve.name!r}: pass e.g. "
                f"{name}={'200 * u.km / u.s' if name == 'v_max' else '3 * u.arcsec'}."
            )
    vmax = _positive(v_max, "v_max", KM_S, allow_none=True)
    rturn = _positive(r_turn, "r_turn", u.arcsec, allow_none=True)
    rscale = _positive(r_scale, "r_scale", u.arcsec)
    pix = _positive(pixel_scale, "pixel_scale", u.arcsec)
    sigma_v = _positive(dispersion, "dispersion", KM_S, allow_zero=True)
    height = _positive(scale_height, "scale_height", u.arcsec, allow_zero=True, allow_none=True)
    height = 0.1 * rscale if height is None else height
    edge = _positive(outer_radius, "outer_radius", u.arcsec, allow_none=True)
    vsys = as_value(systemic_velocity, "systemic_velocity", KM_S, scalar=True)
    dv_user = _positive(channel_width, "channel_width", KM_S, allow_none=True)
    nu0 = _positive(rest_frequency, "rest_frequency", u.Hz)
    flux = _positive(total_flux, "total_flux", _JY_KMS)
    beam = _as_beam(beam)
    n_part = _as_count(n_particles, "n_particles")
    n_chan = None if n_channels is None else _as_count(n_channels, "n_channels")
    if spectral_axis not in ("velocity", "frequency"):
        raise GalkinError(
            f'spectral_axis must be "velocity" or "frequency"; got {spectral_axis!r}.'
        )
    if snr is not None:
        real = isinstance(snr, numbers.Real) and not isinstance(snr, bool)
        if not real or not snr > 0:
            raise GalkinError(f"snr must be a positive number (or None for no noise); got {snr!r}.")
        snr = float(snr)
    if not isinstance(correlated_noise, (bool, np.bool_)):
        raise GalkinError(f"correlated_noise must be True or False; got {correlated_noise!r}.")
    if correlated_noise and beam is None:
        raise GalkinError("correlated_noise=True correlates the noise over the beam: pass beam=.")
    if np.shape(shape) != (2,):
        raise GalkinError(f"shape must be (ny, nx); got {shape!r}.")
    ny, nx = (_as_count(n, "shape") for n in shape)
    if center is None:
        center = ((nx - 1) / 2.0, (ny - 1) / 2.0)
    elif isinstance(center, u.Quantity):
        center = as_value(center, "center", u.pix)
    if np.shape(center) != (2,):
        raise GalkinError(f"center must be a pair of pixel coordinates (x, y); got {center!r}.")
    cx, cy = float(center[0]), float(center[1])
    if sky_center is None:
        sky_center = SkyCoord(150.0 * u.deg, 2.0 * u.deg, frame="icrs")
    elif not isinstance(sky_center, SkyCoord):
        raise GalkinError(f"sky_center must be a SkyCoord; got {type(sky_center).__name__}.")

    sin_i, cos_i = np.sin(np.radians(incl)), np.cos(np.radians(incl))
    map_radius = 0.5 * min(nx, ny) * pix  # the largest radius every direction shows
    r_limit = np.inf if edge is None else edge
    if not isinstance(density, Exponential):  # sampled on a grid: needs a finite edge
        r_limit = min(r_limit, 3.0 * np.hypot(nx, ny) / 2.0 * pix)
    r_gas = gas_radius(density, rscale, r_limit, map_radius)
    v_peak = (
        vmax
        if isinstance(curve, Arctan)
        else float(np.max(curve(radial_grid(r_gas), vmax, rturn, rscale)))
    )
    dv, velocities = _channels(dv_user, n_chan, vsys, v_peak * sin_i + 4.0 * sigma_v)

    # Particles: the surface density, the rotation curve, Gaussian dispersion.
    rng = np.random.default_rng(seed)
    radius, phi = density.sample(rng, n_part, rscale, r_limit)
    z_d = rng.laplace(0.0, height, n_part) if height > 0 else np.zeros(n_part)
    x_d, y_d = radius * np.cos(phi), radius * np.sin(phi)
    v_rot = curve(radius, vmax, rturn, rscale)
    v_los = v_rot * np.cos(phi) * sin_i + vsys
    if sigma_v > 0:
        v_los += rng.normal(0.0, sigma_v, n_part)

    # Sky plane: major axis along (east, north) = (sin PA, cos PA); minor (cos PA, -sin PA).
    x_sky, y_sky = x_d, y_d * cos_i - z_d * sin_i
    sin_pa, cos_pa = np.sin(np.radians(pa)), np.cos(np.radians(pa))
    east = x_sky * sin_pa + y_sky * cos_pa
    north = x_sky * cos_pa - y_sky * sin_pa

    # Bin onto a grid padded by the kernel half-width so that edge flux smears in.
    kernel = None if beam is None else beam_kernel(beam, pix)
    pad = 0 if kernel is None else kernel.shape[0] // 2
    ix = np.floor(cx - east / pix + 0.5).astype(np.int64) + pad
    iy = np.floor(cy + north / pix + 0.5).astype(np.int64) + pad
    iv = np.floor((v_los - velocities[0]) / dv + 0.5).astype(np.int64)
    nyp, nxp, nv = ny + 2 * pad, nx + 2 * pad, velocities.size
    keep = (ix >= 0) & (ix < nxp) & (iy >= 0) & (iy < nyp) & (iv >= 0) & (iv < nv)
    flat = (iv[keep] * nyp + iy[keep]) * nxp + ix[keep]
    data = np.bincount(flat, minlength=nv * nyp * nxp).reshape(nv, nyp, nxp).astype(float)
    data *= flux / (n_part * dv)  # Jy per pixel in each channel

    if kernel is not None:
        lit = data.any(axis=(1, 2))  # line-free channels stay exactly zero
        smeared = np.zeros((nv, ny, nx))
        if lit.any():
            conv = fftconvolve(data[lit], kernel[None], mode="same", axes=(1, 2))
            smeared[lit] = conv[:, pad : pad + ny, pad : pad + nx]
        data = smeared
        data[data < 1e-10 * data.max(initial=0.0)] = 0.0  # FFT round-off, keep exact zeros
    unit = u.Jy / u.beam if beam is not None else u.Jy / u.pix

    peaks = data.max(axis=(1, 2))
    noise = 0.0
    if snr is not None:
        noise = peaks[peaks > 0].mean() / snr if np.any(peaks > 0) else 0.0
        data = add_noise(data, noise, rng, beam=beam if correlated_noise else None, pixel_scale=pix)

    r_eq, v_eq, rt_eq = equivalent_parameters(
        density, curve, rscale, vmax, rturn, r_limit, map_radius
    )
    truth = {
        "inclination": incl * u.deg,
        "position_angle": pa * u.deg,
        "v_max": None if vmax is None else vmax * KM_S,
        "r_turn": None if rturn is None else rturn * u.arcsec,
        "r_scale": rscale * u.arcsec,
        "scale_height": height * u.arcsec,
        "dispersion": sigma_v * KM_S,
        "systemic_velocity": vsys * KM_S,
        "center": [cx, cy] * u.pix,
        "pixel_scale": pix * u.arcsec,
        "channel_width": dv * KM_S,
        "beam": beam,
        "total_flux": flux * _JY_KMS,
        "noise_rms": noise * unit,
        "correlated_noise": bool(correlated_noise),
        "surface_density": density,
        "rotation_curve": curve,
        "outer_radius": None if edge is None else edge * u.arcsec,
        **tables,
        "equivalent": {
            "r_scale": r_eq * u.arcsec,
            "v_max": v_eq * KM_S,
            "r_turn": rt_eq * u.arcsec,
            "radius": r_gas * u.arcsec,
        },
    }
    wcs = _wcs((ny, nx), (cx, cy), pix, sky_center.icrs, velocities, dv, spectral_axis, nu0)
    return _spectral_cube_class()(
        data=data * unit, wcs=wcs, beam=beam, meta={"galkin_truth": truth}
    )
