"""Cubes from KinMS (Davis et al. 2013), written as the FITS files a user would have.

KinMS is the particle simulator ALMA modellers use; it shares no code with
galkin. Its conventions, read from its source (``kinms/KinMS.py``, 3.0.14) and
checked by ``tests/test_referee.py``:

* ``posAng`` is east of north to the *receding* side, as galkin's ``position_angle``
  ("a PA of zero means that the redshifted part of the cube is aligned with the
  positive y-axis"; PA 90 puts it at -x, which is east because the cube's RA
  increment is negative).
* ``inc`` is 0 face-on and 90 edge-on; the line-of-sight velocity is
  ``V(R) cos(theta) sin(inc)`` plus a Gaussian of sigma ``gasSigma``.
* ``diskThick`` is the scale height of an *exponential* vertical profile (a
  Laplace distribution, ``z = h Exp(1) (+-1)``), in arcsec; 0 is razor thin. Gas
  rotates on cylinders (V depends on the in-plane radius only).
* ``sbProf`` is a surface density per unit area at ``sbRad`` (radii are drawn
  from ``sbProf 2 pi R``); ``velProf`` is the circular speed at ``velRad``,
  interpolated linearly.
* The cloudlet at offset 0 lands in pixel ``size / 2 + phaseCent / cellSize``
  (0-based) and channel ``size / 2 + vOffset / dv``; pixel and channel *centres*
  are at integer offsets from there. The cube is returned as ``[x, y, v]``
  with x increasing to the west.

A second, independent forward model: with ``spec["simulator"] == "galmod"`` the
cube comes from 3D-Barolo's GALMOD (pyBBarolo; Di Teodoro & Fraternali 2015), a
tilted-ring cloud model that shares no code with KinMS or galkin. Its
conventions, checked by the same tests: ``xpos``/``ypos`` are 0-based pixels,
``phi`` is east of north to the receding side (as KinMS's ``posAng``), ``inc`` 0
face-on, ``vsys`` in the cube's spectral unit; ``ltype=3`` is an exponential
vertical profile of scale height ``z0`` (arcsec), like KinMS's ``diskThick``.
Rings are one pixel wide (GALMOD refuses narrower ones); each carries the true
surface density and rotation speed at its radius; clouds are dense (a central
surface density of 1000 clouds per ring's ``cdens``), so the cloud shot noise is
small; GALMOD's own beam smoothing (the header's beam) and its default
instrumental broadening of one channel FWHM are applied.

The FITS file is written here, not by KinMS's ``save_fits`` (whose spectral
reference pixel is half a channel off the cloudlets' binning, and which writes no
OBJECT): RA---SIN/DEC--SIN with ``CDELT1 < 0``, a radio-velocity axis
(``VRAD``, km/s), BMAJ/BMIN/BPA, BUNIT Jy/beam, OBJECT.
"""

import contextlib
import gc
import os
import sys
import warnings

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS
from scipy.ndimage import gaussian_filter, map_coordinates

from .cache import GENERATOR_VERSION, atomic_path, content_hash, read_json, write_json
from .profiles import density_extent, peak_velocity, rotation_velocity, surface_density

__all__ = ["make_cube", "clean_cube", "cube_for", "SKY_CENTER_DEG", "HI_REST_HZ"]

#: Sky position of the map centre (RA, Dec in deg, FK5 J2000).
SKY_CENTER_DEG = (150.0, 2.0)
HI_REST_HZ = 1.420405751768e9
_FWHM_PER_SIGMA = np.sqrt(8.0 * np.log(2.0))
#: Total line flux of every galaxy, Jy km/s (only ratios to the noise matter).
_TOTAL_FLUX = 10.0
#: Noiseless cubes: "the data" is where the peak exceeds this fraction of the cube's peak.
_NOISELESS_DETECTION = 0.01
#: Truth radii stop at this fraction of the half-field (issue 12's "80% of the half-field").
HALF_FIELD_FRACTION = 0.8


def _channels(spec):
    """Channel count and the (fractional) channel of the systemic velocity."""
    inc = np.radians(spec["inclination_deg"])
    radius = spec["shape"][1] / 2 * np.sqrt(2)
    v_proj = peak_velocity(spec["velocity_profile"], radius) * np.sin(inc)
    half_width = v_proj + 4.0 * spec["dispersion_kms"]
    n_line = int(np.ceil(2.0 * half_width / spec["channel_width_kms"]))
    n_chan = n_line + 2 * max(6, int(np.ceil(n_line / 4)))  # line-free channels both sides
    return n_chan, n_chan / 2 + spec["channel_phase"]


def _kinms_cube(spec, n_chan):
    """The noiseless cube ``(v, y, x)`` in Jy/beam, simulated on a padded field and cropped."""
    from kinms import KinMS

    ny, nx = spec["shape"]
    cell, dv, beam = spec["pixel_scale_arcsec"], spec["channel_width_kms"], spec["beam_fwhm_arcsec"]
    pad = int(np.ceil(2.1 * beam / cell)) + 1  # KinMS trims its beam at 1e-5 = 2.04 FWHM
    # The gas is drawn out to where it is negligible, not to the field's corner:
    # a disc cut at the corner radius shows a sharp edge inside the field when it
    # is large and inclined (generator version 1 did that).
    field = (max(nx, ny) / 2 + pad) * np.sqrt(2) * cell + 5.0
    extent = max(field, density_extent(spec["density_profile"]))
    radius = np.arange(0.0, extent, 0.05 * cell)
    model = KinMS(
        (nx + 2 * pad) * cell,
        (ny + 2 * pad) * cell,
        n_chan * dv,
        cell,
        dv,
        [beam, beam, 0.0],
        nSamps=spec["n_particles"],
        seed=spec["kinms_seed"],
        huge_beam=beam > 4 * cell,
    )
    cx, cy = spec["center_px"]
    cube = model.model_cube(
        spec["inclination_deg"],
        spec["position_angle_deg"],
        gasSigma=spec["dispersion_kms"],
        diskThick=spec["scale_height_arcsec"],
        sbRad=radius,
        sbProf=surface_density(spec["density_profile"], radius),
        velProf=rotation_velocity(spec["velocity_profile"], radius),
        intFlux=_TOTAL_FLUX,
        phaseCent=[(cx - nx / 2) * cell, (cy - ny / 2) * cell],
        vOffset=spec["channel_phase"] * dv,
    )
    return np.ascontiguousarray(cube[pad : pad + nx, pad : pad + ny, :].T)


def _noise(spec, clean):
    """Thesis Eq. 2.2 noise: sigma = mean over line channels of each channel's peak / (S/N).

    ``"white"`` noise is independent per voxel; ``"beam"`` noise is white noise
    convolved with the beam and rescaled to the same sigma (correlated over a
    beam, like an interferometer's).
    """
    if spec["snr"] is None:
        return np.zeros_like(clean), 0.0
    peaks = clean.max(axis=(1, 2))
    sigma = peaks[peaks > 0].mean() / spec["snr"]
    noise = np.random.default_rng(spec["noise_seed"]).standard_normal(clean.shape)
    if spec["noise"] == "beam":
        s = spec["beam_fwhm_arcsec"] / spec["pixel_scale_arcsec"] / _FWHM_PER_SIGMA
        noise = gaussian_filter(noise, sigma=(0, s, s), mode="wrap")
        noise /= noise.std()
    return noise * sigma, float(sigma)


def _major_axis_detection(spec, clean, sigma, radius):
    """Whether the data reach ``radius`` (arcsec) on both sides of the major axis.

    A point on the major axis is "in the data" when the noiseless cube's peak
    over channels there is at least 3 sigma (1% of the cube's peak when
    noiseless). Returns a boolean array, one per radius.
    """
    peak = clean.max(axis=0)
    threshold = 3.0 * sigma if sigma > 0 else _NOISELESS_DETECTION * peak.max()
    pa = np.radians(spec["position_angle_deg"])
    r = np.asarray(radius, dtype=float) / spec["pixel_scale_arcsec"]
    cx, cy = spec["center_px"]
    detected = np.ones(r.shape, dtype=bool)
    for sign in (1.0, -1.0):  # receding, approaching; east = -x, north = +y
        x, y = cx - sign * r * np.sin(pa), cy + sign * r * np.cos(pa)
        detected &= map_coordinates(peak, [y, x], order=1, cval=0.0) >= threshold
    return detected


def truth_radii(spec, clean, sigma):
    """Radii (arcsec) where fitted curves are compared with the truth, and the data's reach.

    Every half beam FWHM from half a FWHM out to 80% of the half-field, keeping
    the radii where the data reach both sides of the major axis
    (:func:`_major_axis_detection`; a central hole or a gap between rings has no
    data to measure a rotation speed from).

    Returns
    -------
    radii : `numpy.ndarray`
    r_data : float
        The largest radius (arcsec, 0.25 pixel steps) at which the data reach
        both sides of the major axis.
    """
    pixel = spec["pixel_scale_arcsec"]
    fine = np.arange(0.0, max(spec["shape"]), 0.25) * pixel
    reach = _major_axis_detection(spec, clean, sigma, fine)
    r_data = float(fine[reach].max()) if reach.any() else 0.0
    step = spec["beam_fwhm_arcsec"] / 2
    half_field = min(spec["shape"]) / 2 * pixel
    radii = step * np.arange(1, int(np.floor(HALF_FIELD_FRACTION * half_field / step)) + 1)
    return radii[_major_axis_detection(spec, clean, sigma, radii)], r_data


def _header(spec, n_chan, kc):
    ny, nx = spec["shape"]
    cell, dv = spec["pixel_scale_arcsec"], spec["channel_width_kms"]
    beam_deg = spec["beam_fwhm_arcsec"] / 3600.0
    cards = [
        ("CTYPE1", "RA---SIN"),
        ("CRVAL1", SKY_CENTER_DEG[0]),
        ("CRPIX1", nx / 2 + 1.0),
        ("CDELT1", -cell / 3600.0),
        ("CUNIT1", "deg"),
        ("CTYPE2", "DEC--SIN"),
        ("CRVAL2", SKY_CENTER_DEG[1]),
        ("CRPIX2", ny / 2 + 1.0),
        ("CDELT2", cell / 3600.0),
        ("CUNIT2", "deg"),
        ("CTYPE3", "VRAD"),
        ("CRVAL3", spec["systemic_velocity_kms"] - kc * dv),
        ("CRPIX3", 1.0),
        ("CDELT3", dv),
        ("CUNIT3", "km/s"),
        ("SPECSYS", "BARYCENT"),
        ("RESTFRQ", HI_REST_HZ),
        ("RADESYS", "FK5"),
        ("EQUINOX", 2000.0),
        ("BMAJ", beam_deg),
        ("BMIN", beam_deg),
        ("BPA", 0.0),
        ("BUNIT", "Jy/beam"),
        ("BTYPE", "Intensity"),
        ("OBJECT", spec["name"]),
        ("TELESCOP", "GALMOD" if spec.get("simulator") == "galmod" else "KinMS"),
        ("ORIGIN", "galkin referee benchmark"),
    ]
    header = fits.Header(cards)
    header["HISTORY"] = (
        f"{header['TELESCOP']} cube of referee set {spec['set']!r}, seed {spec['seed']}"
    )
    return header


@contextlib.contextmanager
def _quiet():
    """Send the C++ library's progress bars (written to file descriptors 1 and 2) to null."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 1)
        os.dup2(null, 2)
        yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, null):
            os.close(fd)


def _galmod_cube(spec, n_chan, kc):
    """The noiseless cube ``(v, y, x)`` from 3D-Barolo's GALMOD, on a padded field, cropped."""
    import tempfile
    from pathlib import Path

    from pyBBarolo import GalMod

    ny, nx = spec["shape"]
    cell, beam = spec["pixel_scale_arcsec"], spec["beam_fwhm_arcsec"]
    pad = int(np.ceil(2.1 * beam / cell)) + 1  # the beam reaches in from outside the field
    padded = dict(spec, shape=(ny + 2 * pad, nx + 2 * pad))
    header = _header(padded, n_chan, kc)
    # as for KinMS: out to where the gas is negligible, not to the field's corner
    field = (max(nx, ny) / 2 + pad) * np.sqrt(2) * cell + 5.0
    extent = max(field, density_extent(spec["density_profile"]))
    radius = cell * (np.arange(int(np.ceil(extent / cell))) + 0.5)
    density = surface_density(spec["density_profile"], radius)
    cx, cy = spec["center_px"]
    with tempfile.TemporaryDirectory() as tmp:
        template = Path(tmp) / "template.fits"
        fits.PrimaryHDU(np.zeros((n_chan, ny + 2 * pad, nx + 2 * pad), np.float32), header).writeto(
            template
        )
        with _quiet():
            model = GalMod(str(template))
        model.init(
            radii=radius,
            xpos=cx + pad,
            ypos=cy + pad,
            vsys=spec["systemic_velocity_kms"],
            vrot=rotation_velocity(spec["velocity_profile"], radius),
            vdisp=spec["dispersion_kms"],
            vrad=0.0,
            z0=max(spec["scale_height_arcsec"], 1e-3 * cell),
            inc=spec["inclination_deg"],
            phi=spec["position_angle_deg"],
            dens=1e3 * density / density.max(),
        )
        model.set_options(ltype=3, cmode=1, iseed=-1 - int(spec["kinms_seed"]), outfolder=tmp)
        with _quiet():
            model.compute(threads=1)
            cube = np.asarray(model.smooth().data, dtype=float)
        with warnings.catch_warnings():  # pyBBarolo leaves the template open
            warnings.simplefilter("ignore", ResourceWarning)
            del model
            gc.collect()
    return np.ascontiguousarray(cube[:, pad : pad + ny, pad : pad + nx])


def clean_cube(spec):
    """Simulate one galaxy, and keep its noiseless cube (for diagnostics).

    Parameters
    ----------
    spec : dict
        From :func:`.conditions.draw_galaxy`.

    Returns
    -------
    data : `numpy.ndarray`
        ``(n_channels, ny, nx)`` float32, Jy/beam, noise added.
    header : `astropy.io.fits.Header`
    truth : dict
        ``spec`` plus what the metrics need: ``v_max_kms`` (the arctan asymptote,
        or the peak of other curves within the half-field), ``v_sin_i_kms``,
        ``noise_rms`` (Jy/beam), ``r_data_arcsec``, ``radius_arcsec`` and
        ``v_rot_kms`` (the true curve at the comparison radii), the centre's
        ``center_sky_deg``, ``n_channels`` and the simulator and its version.
    clean : `numpy.ndarray`
        The same cube without noise (float64).
    """
    from importlib.metadata import version

    n_chan, kc = _channels(spec)
    simulator = spec.get("simulator", "kinms")
    if simulator == "galmod":
        clean = _galmod_cube(spec, n_chan, kc)
    elif simulator == "kinms":
        clean = _kinms_cube(spec, n_chan)
    else:
        raise ValueError(f"unknown simulator {simulator!r}; known: kinms, galmod")
    noise, sigma = _noise(spec, clean)
    header = _header(spec, n_chan, kc)
    radii, r_data = truth_radii(spec, clean, sigma)
    velocity = spec["velocity_profile"]
    v_max = peak_velocity(velocity, min(spec["shape"]) / 2 * spec["pixel_scale_arcsec"])
    ra, dec = WCS(header).celestial.wcs_pix2world([spec["center_px"]], 0)[0]
    truth = dict(
        spec,
        v_max_kms=v_max,
        v_sin_i_kms=v_max * np.sin(np.radians(spec["inclination_deg"])),
        noise_rms=sigma,
        r_data_arcsec=r_data,
        radius_arcsec=radii.tolist(),
        v_rot_kms=rotation_velocity(velocity, radii).tolist(),
        center_sky_deg=[float(ra), float(dec)],
        n_channels=n_chan,
        simulator=simulator,
        simulator_version=version("kinms" if simulator == "kinms" else "pyBBarolo"),
    )
    return (clean + noise).astype(np.float32), header, truth, clean


def make_cube(spec):
    """Simulate one galaxy: ``(data, header, truth)`` of :func:`clean_cube`."""
    return clean_cube(spec)[:3]


def cube_for(spec, cache_dir):
    """The FITS path and truth of ``spec``'s cube, simulated only if not cached.

    Parameters
    ----------
    spec : dict
        From :func:`.conditions.draw_galaxy`.
    cache_dir : `pathlib.Path`

    Returns
    -------
    path : `pathlib.Path`
        ``<cache>/<set>/<name>-<hash>.fits``; the truth is beside it as ``.json``.
    truth : dict
    """
    key = content_hash({"spec": spec, "generator": GENERATOR_VERSION})
    path = cache_dir / spec["set"] / f"{spec['name']}-{key}.fits"
    truth_path = path.with_suffix(".json")
    truth = read_json(truth_path)
    if truth is not None and path.exists():
        return path, truth
    data, header, truth = make_cube(spec)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = atomic_path(path)
    fits.PrimaryHDU(data, header).writeto(tmp, overwrite=True)
    tmp.replace(path)
    write_json(truth_path, truth)
    return path, truth
