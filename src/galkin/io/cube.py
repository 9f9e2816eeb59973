"""Moment maps from a spectral cube: :func:`maps_from_cube`.

The path, top to bottom: check the input is a `~spectral_cube.SpectralCube`
(Stokes I is taken from a Stokes cube; a multi-beam cube is convolved to a
common beam), put the spectral axis in km/s (:mod:`galkin.io.spectral`), find
the beam, measure the noise and build a 3-D emission mask
(:func:`galkin.io.moments.noise_and_mask`), and take moments 0, 1 and 2 with
spectral-cube, and the errors of moments 0 and 1
(:func:`galkin.io.moments.moment_errors`).  Pixels without unmasked emission
are blank (NaN) and invalid in the mask of the returned
`~galkin.KinematicMaps`; how the maps were made is recorded in its ``meta``.

This is the reference reader, and the way cubes in memory are read; FITS files
are read faster, into the same maps, by :func:`galkin.io.fitscube.maps_from_fits`.
"""

import warnings

import numpy as np
from astropy import units as u
from astropy.utils.exceptions import AstropyPendingDeprecationWarning
from astropy.wcs import FITSFixedWarning
from astropy.wcs.utils import proj_plane_pixel_scales

from ..exceptions import GalkinError
from ..units import KM_S
from . import moments, spectral
from .maps import KinematicMaps, _as_beam
from .moments import DEFAULT_NSIGMA, MASK_METHODS

with warnings.catch_warnings():
    # spectral-cube 0.7 imports astropy's deprecated COPY_IF_NEEDED when imported.
    warnings.filterwarnings("ignore", "COPY_IF_NEEDED", AstropyPendingDeprecationWarning)
    from spectral_cube import SpectralCube, StokesSpectralCube, VaryingResolutionSpectralCube

__all__ = ["maps_from_cube", "is_cube", "SpectralCube", "MASK_METHODS", "DEFAULT_NSIGMA"]


def is_cube(obj):
    """True for spectral-cube cubes (single- or multi-beam, or Stokes)."""
    from spectral_cube.spectral_cube import BaseSpectralCube

    return isinstance(obj, (BaseSpectralCube, StokesSpectralCube))


def _describe(obj):
    shape = getattr(obj, "shape", None)
    return type(obj).__name__ + ("" if shape is None else f" of shape {shape}")


def _as_spectral_cube(cube):
    """Return a `SpectralCube` / `VaryingResolutionSpectralCube`, or explain what to pass."""
    if isinstance(cube, StokesSpectralCube):
        if "I" in cube.components:
            return cube.I, "I"
        raise GalkinError(
            f"The Stokes cube has components {list(cube.components)} but no Stokes I; pass "
            "the component to fit, e.g. maps_from_cube(cube.RR)."
        )
    if isinstance(cube, SpectralCube | VaryingResolutionSpectralCube):
        return cube, None
    if isinstance(cube, KinematicMaps):
        raise GalkinError("Got KinematicMaps already: there is no cube to take moments of.")
    fix = (
        "Read a FITS cube with spectral_cube.SpectralCube.read(path), or wrap an array: "
        "SpectralCube(data=array * u.Jy / u.beam, wcs=WCS(header))."
    )
    if isinstance(cube, str) or hasattr(cube, "__fspath__"):
        raise GalkinError(f"Got a path ({cube}), not a cube. {fix}")
    ndim = np.ndim(cube) if hasattr(cube, "shape") else None
    if ndim == 2:
        fix = (
            "A 2-D map is already a moment map: wrap it with galkin.KinematicMaps(moment0, "
            "moment1, pixel_scale=... or wcs=...) instead of building it from a cube."
        )
    elif ndim == 4:
        fix = (
            "Drop the degenerate axis first (e.g. array[0] for a length-1 Stokes axis), or read "
            "the FITS file with SpectralCube.read, which returns the Stokes I cube. " + fix
        )
    raise GalkinError(
        f"maps_from_cube needs a 3-D spectral_cube.SpectralCube; got {_describe(cube)}. {fix}"
    )


def _common_resolution(cube, beam):
    """Convolve a multi-beam cube to ``beam`` or to the smallest common beam."""
    if not isinstance(cube, VaryingResolutionSpectralCube):
        return cube, False
    try:
        target = beam if beam is not None else cube.beams.common_beam()
        return cube.convolve_to(target, update_function=lambda: None), True
    except ValueError as exc:
        if "allow_huge_operations" in str(exc):
            fix = "Set cube.allow_huge_operations = True (it needs the cube in memory twice)"
        else:
            fix = (
                "Mask channels with outlying beams first, e.g. cube.mask_out_bad_beams(0.1), "
                "or pass beam= at least as large as every channel's beam"
            )
        raise GalkinError(
            f"Could not convolve the multi-beam cube to a common beam ({exc}). {fix}, or "
            "convolve it yourself with cube.convolve_to(beam)."
        ) from exc


def _to_velocity(cube, rest_frequency, velocity_convention):
    """Return the cube with a km/s spectral axis, and provenance for ``meta``."""
    ctype = cube.wcs.wcs.ctype[cube.wcs.wcs.spec]
    unit = cube.spectral_axis.unit
    rest = spectral.find_rest_frequency(rest_frequency, cube.wcs)
    convention, is_velocity = spectral.check_convention(ctype, unit, rest, velocity_convention)
    info = {
        "spectral_axis": ctype,
        "spectral_unit": unit.to_string(),
        "rest_frequency": rest,
        "velocity_convention": convention,
    }
    if is_velocity:
        return cube.with_spectral_unit(KM_S), info
    cube = cube.with_spectral_unit(
        KM_S, velocity_convention=convention, rest_value=rest.to(unit, u.spectral())
    )
    return cube, info


def _find_beam(cube, beam):
    """The beam from the argument, else the cube's (header BMAJ or AIPS/CASA HISTORY), or None."""
    if beam is not None:
        return _as_beam(beam), "argument"
    found = getattr(cube, "_beam", None)  # cube.beam raises NoBeamError when absent
    if found is None or not (np.isfinite(found.major.value) and found.major.value > 0):
        return None, None
    return found, "cube"


class _Channels:
    """Read access to blocks of a cube's channels (blanks as NaN), for :mod:`galkin.io.moments`."""

    def __init__(self, cube):
        self.cube = cube
        self.shape = cube.shape

    def __getitem__(self, channels):
        return np.asarray(self.cube.unitless_filled_data[channels], dtype=np.float32)


def _moments(cube, mask, channel_rms):
    """Moment 0, 1, the moment-2 linewidth and the errors of 0 and 1; NaN without emission."""
    if mask is not None:
        cube = cube.with_mask(mask)
    with np.errstate(all="ignore"):
        # how="auto": whole cube in memory below 1e8 voxels, channel by channel above.
        mom0 = cube.moment0(how="auto")
        mom1 = cube.moment1(how="auto")
        sigma = cube.linewidth_sigma(how="auto")
    spec = cube.spectral_axis.to_value(KM_S)
    widths = moments.channel_widths(spec)
    half = widths.max() / 2
    v1 = mom1.to_value(KM_S)
    with np.errstate(invalid="ignore"):
        valid = (mom0.value > 0) & (v1 >= spec.min() - half) & (v1 <= spec.max() + half)
    maps = [u.Quantity(m, copy=True) for m in (mom0, mom1.to(KM_S), sigma.to(KM_S))]
    errors = [None, None]
    if channel_rms is not None:
        used = cube.mask.include() if mask is not None else np.isfinite(cube.filled_data[:])
        errors = moments.moment_errors(used, spec, widths, channel_rms, mom0.value, v1)
        units = (mom0.unit, KM_S)
        errors = [None if e is None else e * unit for e, unit in zip(errors, units, strict=True)]
    maps += errors
    for m in maps:
        if m is not None:
            m[~valid] = np.nan
    return (*maps, valid)


def maps_from_cube(
    cube,
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
    """Moment maps (Eqs. 3.1-3.2 of the thesis) and their mask from a spectral cube.

    Parameters
    ----------
    cube : `~spectral_cube.SpectralCube`
        3-D cube with a velocity, frequency or wavelength axis.  A
        `~spectral_cube.VaryingResolutionSpectralCube` is first convolved to its
        common beam (or to ``beam``); a `~spectral_cube.StokesSpectralCube`
        gives its Stokes I.
    rest_frequency : `~astropy.units.Quantity`, optional
        Rest frequency (or wavelength) of the line, for frequency/wavelength
        axes; default: the header's RESTFRQ/RESTFREQ/RESTWAV.
    velocity_convention : {None, 'radio', 'optical', 'relativistic'}, optional
        For frequency/wavelength axes; None means radio for frequency and
        optical for wavelength.  A velocity axis keeps its own convention.
    mask : {'smooth', 'clip', 'none'}, optional
        Emission mask: smooth mask (Dame 2011), clipping, or none.  See
        :mod:`galkin.io.masking`.
    clip_sigma : float, optional
        Threshold in units of the rms: default 4 for 'smooth' (rms of the
        smoothed cube) and 3 for 'clip'.
    noise : `~astropy.units.Quantity`, optional
        Noise rms per channel in the cube's brightness unit; default: measured
        in the line-free channels (:func:`galkin.io.noise.estimate_rms`), or
        none for a noiseless model cube, whose emission is then the mask.
    region : `regions.PixelRegion` or `regions.SkyRegion`, optional
        Keep only pixels inside it (:meth:`KinematicMaps.restrict`).
    beam : `radio_beam.Beam` or `~astropy.units.Quantity`, optional
        Overrides the cube's beam (or supplies a missing one); an angle is the
        FWHM of a circular beam.  Without either the maps carry ``beam=None``.
    name : str, optional
        Default: the header's OBJECT.
    center, position_angle, systemic_velocity : optional
        Priors passed to `~galkin.KinematicMaps`.

    Returns
    -------
    `~galkin.KinematicMaps`
        ``moment0`` (cube unit x km/s), ``moment1`` and ``dispersion`` (km/s),
        and ``moment0_err`` and ``moment1_err`` (None for a noiseless cube).

    Examples
    --------
    >>> import numpy as np
    >>> from astropy import units as u
    >>> from astropy.wcs import WCS
    >>> from spectral_cube import SpectralCube
    >>> wcs = WCS(naxis=3)
    >>> wcs.wcs.ctype = ["RA---SIN", "DEC--SIN", "VRAD"]
    >>> wcs.wcs.cunit = ["deg", "deg", "km/s"]
    >>> wcs.wcs.cdelt = [-1 / 3600, 1 / 3600, 10.0]
    >>> wcs.wcs.crval = [150.0, 2.0, 0.0]
    >>> wcs.wcs.crpix = [10.5, 10.5, 16.0]  # channel 15 (0-based) is at 0 km/s
    >>> v = np.arange(-15, 15)[:, None, None] * 10.0
    >>> data = np.exp(-0.5 * ((v - 50.0) / 20.0) ** 2) * np.ones((30, 20, 20))
    >>> data += np.random.default_rng(0).normal(0, 0.05, data.shape)
    >>> cube = SpectralCube(data * u.K, wcs)
    >>> maps = maps_from_cube(cube, beam=3 * u.arcsec)
    >>> round(float(np.nanmedian(maps.moment1.value)))
    50
    """
    cube, stokes = _as_spectral_cube(cube)
    nsigma = moments.mask_threshold(mask, clip_sigma)
    if cube.wcs.celestial.naxis != 2:
        raise GalkinError("The cube has no two celestial axes (RA/Dec): it is not a sky cube.")
    beam = None if beam is None else _as_beam(beam)
    with warnings.catch_warnings():
        # spectral-cube re-parses the header for every derived cube; the WCS fixes
        # it reports (units, NCP -> SIN, VELO-HEL -> VOPT) were reported at read time.
        warnings.simplefilter("ignore", FITSFixedWarning)
        cube, convolved = _common_resolution(cube, beam)
        cube, meta = _to_velocity(cube, rest_frequency, velocity_convention)
        beam, beam_source = _find_beam(cube, beam)
        rms = None if noise is None else moments.noise_value(noise, cube.unit)
        scale = np.sqrt(np.prod(proj_plane_pixel_scales(cube.wcs.celestial))) * u.deg
        kernel_px = moments.NO_BEAM_KERNEL_PX if beam is None else float(beam.major / scale)
        mask3d, channel_rms, info = moments.noise_and_mask(
            _Channels(cube), method=mask, nsigma=nsigma, noise_rms=rms, kernel_px=kernel_px
        )
        meta.update(
            source="cube",
            reader="spectral-cube",
            stokes=stokes,
            channel_width=np.abs(np.diff(cube.spectral_axis)).mean().to(KM_S),
            n_channels=cube.shape[0],
            **moments.with_unit(info, cube.unit, scale),
            beam_source=beam_source,
            convolved_to_common_beam=convolved,
        )
        if mask == "smooth":
            meta["smooth_kernel_fwhm"] = (kernel_px * scale).to(u.arcsec)
        mom0, mom1, sigma, err0, err1, valid = _moments(cube, mask3d, channel_rms)
        maps = KinematicMaps(
            mom0,
            mom1,
            dispersion=sigma,
            moment0_err=err0,
            moment1_err=err1,
            mask=valid,
            beam=beam,
            wcs=cube.wcs.celestial,
            center=center,
            position_angle=position_angle,
            systemic_velocity=systemic_velocity,
            name=name or str(cube.header.get("OBJECT", "")).strip() or None,
            meta=meta,
        )
        if region is not None:
            maps = maps.restrict(region)
    return maps
