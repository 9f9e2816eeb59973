"""Moment maps straight from a FITS cube: :func:`maps_from_fits`, the survey path.

One read of the header and the data array, one WCS, then the noise, the mask,
the moments and their errors with vectorised NumPy/SciPy on that array
(:mod:`galkin.io.moments`) -- a 64 x 64 x 130 cube in milliseconds, where going
through spectral-cube's generic machinery takes some 200 ms.  The maps are the
same as :func:`galkin.io.cube.maps_from_cube`'s (the tests check it to float
precision): the noise and the masks are the same code, the channel velocities
come from the same WCS, and the moments are the same sums.

Cubes this reader does not handle go through spectral-cube instead, which
reads them as it always has: multi-beam cubes (a ``BEAMS`` table, CASAMBM),
Stokes cubes with more than one component, axes other than (RA/Dec,
Dec/RA, spectral[, Stokes of length one]), integer data, the first image not
in the primary HDU, and a BUNIT astropy cannot parse.  ``meta["reader"]``
says which read the file.
"""

import functools
import warnings
from dataclasses import dataclass

import numpy as np
from astropy import units as u
from astropy.io import fits
from astropy.io.fits.verify import VerifyWarning
from astropy.wcs import WCS, FITSFixedWarning
from astropy.wcs.utils import proj_plane_pixel_scales

from ..exceptions import GalkinError
from ..units import KM_S
from . import moments, spectral
from .maps import KinematicMaps, _as_beam

__all__ = ["maps_from_fits", "read_fits_cube", "FitsCube"]


@dataclass
class FitsCube:
    """A cube as read from FITS: the data as float32 ``(channel, y, x)`` and its description.

    Attributes
    ----------
    data : `numpy.ndarray`
        NaN marks blanks.
    header : `astropy.io.fits.Header`
    wcs : `astropy.wcs.WCS`
        Three axes: two celestial and the spectral axis (the third).
    unit : `~astropy.units.UnitBase`
        Brightness unit (BUNIT).
    beam : `radio_beam.Beam` or None
        From BMAJ/BMIN/BPA or an AIPS HISTORY card.
    """

    data: np.ndarray
    header: fits.Header
    wcs: WCS
    unit: u.UnitBase
    beam: object


@functools.lru_cache(maxsize=256)
def _parse_unit(text):
    """A header's unit string as a unit, or None (cached: a survey repeats a few strings,
    and astropy's parser takes a millisecond each time)."""
    if text.replace(" ", "").lower() == "jy/beam":  # CASA writes it so
        return u.Jy / u.beam
    try:
        return u.Unit(text) if text else u.dimensionless_unscaled
    except ValueError:
        return None


def _unit(bunit):
    """BUNIT as a unit (CASA's 'JY/BEAM' too), or None when astropy cannot parse it."""
    return _parse_unit(str(bunit or "").strip())


def _header_spectral_unit(cube):
    """The spectral axis' unit as the header writes it (WCS normalises km/s to m/s)."""
    text = str(cube.header.get(f"CUNIT{cube.wcs.wcs.spec + 1}", "")).strip()
    unit = _parse_unit(text) if text else None
    return None if unit is None else unit.to_string()


def _header_beam(header):
    from radio_beam import Beam
    from radio_beam.beam import NoBeamException

    try:
        beam = Beam.from_fits_header(header)
    except (NoBeamException, ValueError, TypeError, KeyError):  # none, or cards it cannot read
        return None
    return beam if np.isfinite(beam.major.value) and beam.major.value > 0 else None


def read_fits_cube(path):
    """Read a single-beam FITS cube into a `FitsCube`, or None when spectral-cube must.

    Parameters
    ----------
    path : str or `pathlib.Path`

    Returns
    -------
    FitsCube or None
        None for the cubes listed in the module docstring.
    """
    with warnings.catch_warnings():
        # a corrupt header makes astropy warn inside fits.open, and a warning turned
        # into an error there leaves the file open; unwarned, it raises OSError
        warnings.simplefilter("ignore", VerifyWarning)
        hdul = fits.open(path, memmap=False)
    with hdul:
        header = hdul[0].header
        data = hdul[0].data
        if data is None or "BEAMS" in hdul or header.get("CASAMBM", False):
            return None
        if data.dtype.kind != "f" or data.ndim not in (3, 4):
            return None
        if data.ndim == 4 and (data.shape[0] != 1 or "STOKES" not in str(header.get("CTYPE4"))):
            return None
        data = np.asarray(data[0] if data.ndim == 4 else data, dtype=np.float32)
        header = header.copy()
    unit = _unit(header.get("BUNIT"))
    if unit is None:
        return None
    with warnings.catch_warnings():
        # astropy reports the fixes it makes to old headers (NCP -> SIN, VELO-HEL ->
        # VOPT, 'DEGREE' -> 'deg'); they are routine and the result is what galkin needs.
        warnings.simplefilter("ignore", FITSFixedWarning)
        wcs = WCS(header)
    if wcs.naxis == 4:
        wcs = wcs.dropaxis(3)
    if wcs.naxis != 3 or wcs.wcs.spec != 2 or {wcs.wcs.lng, wcs.wcs.lat} != {0, 1}:
        return None
    return FitsCube(data=data, header=header, wcs=wcs, unit=unit, beam=_header_beam(header))


def maps_from_fits(
    path,
    *,
    rest_frequency=None,
    velocity_convention=None,
    mask="smooth",
    clip_sigma=None,
    noise=None,
    region=None,
    beam=None,
    name=None,
    center=None,
    position_angle=None,
    systemic_velocity=None,
):
    """Moment maps, their errors and their mask from a FITS cube file.

    Takes the arguments of :func:`galkin.io.cube.maps_from_cube` (see there) with
    a file path in place of the cube, and returns the same maps; cubes this fast
    reader does not handle (see the module docstring) are read with
    spectral-cube and passed to :func:`~galkin.io.cube.maps_from_cube`.

    Parameters
    ----------
    path : str, `pathlib.Path` or `FitsCube`
        A FITS cube (optionally gzipped), or one :func:`read_fits_cube` read.
    rest_frequency, velocity_convention, mask, clip_sigma, noise, region, beam : optional
        As for :func:`~galkin.io.cube.maps_from_cube`.
    name, center, position_angle, systemic_velocity : optional
        As for :func:`~galkin.io.cube.maps_from_cube`.

    Returns
    -------
    `~galkin.KinematicMaps`
        ``moment0``, ``moment1``, ``dispersion``, ``moment0_err`` and
        ``moment1_err``; ``meta["reader"]`` is ``"fits"`` (this reader) or
        ``"spectral-cube"``.
    """
    nsigma = moments.mask_threshold(mask, clip_sigma)
    options = dict(
        rest_frequency=rest_frequency,
        velocity_convention=velocity_convention,
        mask=mask,
        clip_sigma=clip_sigma,
        noise=noise,
        region=region,
        beam=beam,
        name=name,
        center=center,
        position_angle=position_angle,
        systemic_velocity=systemic_velocity,
    )
    if isinstance(path, FitsCube):
        cube = path
    else:
        try:
            cube = read_fits_cube(path)
        except OSError as exc:
            raise GalkinError(f"{path} is not a readable FITS file ({exc}).") from exc
    if cube is None:
        from .cube import SpectralCube, maps_from_cube

        return maps_from_cube(SpectralCube.read(path), **options)

    velocity, meta = spectral.channel_velocities(
        cube.wcs,
        cube.data.shape[0],
        rest_frequency=rest_frequency,
        velocity_convention=velocity_convention,
    )
    meta["spectral_unit"] = _header_spectral_unit(cube) or meta["spectral_unit"]
    if beam is not None:
        beam, beam_source = _as_beam(beam), "argument"
    else:
        beam, beam_source = cube.beam, None if cube.beam is None else "cube"
    celestial = cube.wcs.celestial
    scale = np.sqrt(np.prod(proj_plane_pixel_scales(celestial))) * u.deg
    kernel_px = moments.NO_BEAM_KERNEL_PX if beam is None else float(beam.major / scale)
    rms = None if noise is None else moments.noise_value(noise, cube.unit)
    mask3d, channel_rms, info = moments.noise_and_mask(
        cube.data, method=mask, nsigma=nsigma, noise_rms=rms, kernel_px=kernel_px
    )
    meta.update(
        source="cube",
        reader="fits",
        stokes=None,
        channel_width=np.abs(np.diff(velocity)).mean() * KM_S,
        n_channels=cube.data.shape[0],
        **moments.with_unit(info, cube.unit, scale),
        beam_source=beam_source,
        convolved_to_common_beam=False,
    )
    if mask == "smooth":
        meta["smooth_kernel_fwhm"] = (kernel_px * scale).to(u.arcsec)
    m = moments.take_moments(cube.data, velocity, mask=mask3d, channel_rms=channel_rms)
    unit0 = cube.unit * KM_S
    maps = KinematicMaps(
        m.moment0 * unit0,
        m.moment1 * KM_S,
        dispersion=m.dispersion * KM_S,
        moment0_err=None if m.moment0_err is None else m.moment0_err * unit0,
        moment1_err=None if m.moment1_err is None else m.moment1_err * KM_S,
        mask=m.valid,
        beam=beam,
        wcs=celestial,
        center=center,
        position_angle=position_angle,
        systemic_velocity=systemic_velocity,
        name=name or str(cube.header.get("OBJECT", "")).strip() or None,
        meta=meta,
    )
    return maps if region is None else maps.restrict(region)
