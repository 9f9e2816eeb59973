"""HI data from VLA, WSRT and other interferometers: cubes and SoFiA moment-map sets.

Cubes: a spectral axis of type VELO/FELO/VRAD/VOPT (AIPS and GIPSY write
``VELO-HEL``, ``FELO-HEL``, ``VELO-LSR``; values in m/s), or FREQ with the HI
rest frequency (RESTFRQ/RESTFREQ; a FREQ cube in the 0.9-1.43 GHz band without
one is taken to be redshifted HI and gets the 21-cm rest frequency).
Celestial axes may use the NCP projection of older WSRT/VLA data (astropy reads
it as SIN with the equivalent PV cards).  The beam comes from BMAJ/BMIN/BPA, the
AIPS or CASA HISTORY cards, the WSRT/GIPSY BMMAJ/BMMIN cards (arcsec) or the
user (``beam=``); a cube without any is refused with a message asking for one.

Moment maps: SoFiA's ``<name>_mom0.fits``, ``<name>_mom1.fits`` and optional
``<name>_mom2.fits`` (velocities in the cube's unit, usually m/s; BMAJ/BMIN in
degrees and no BPA, so the beam PA is taken as 0).  Given any one of them, the
others are found next to it.  SoFiA computes moment 1 wherever its source mask
is set, including a few faint pixels whose moment 1 lies outside the observed
band; those are masked using the spectral range of the cube next to the maps
(``<name>.fits`` or ``<name>_cube.fits``) when there is one, or ``velocity_range``.

Tested on real files: the WSRT cube of NGC 2903 and its SoFiA moment maps.
"""

import re
from pathlib import Path

import numpy as np
from astropy import units as u

from galkin.exceptions import GalkinError
from galkin.io.maps import KinematicMaps, celestial_wcs
from galkin.io.survey import SurveyAdapter
from galkin.units import KM_S, as_quantity

from ._common import (
    HI_REST_FREQUENCY,
    cube_to_maps,
    open_fits,
    parse_unit,
    quiet_fits,
    required_header_beam,
    rest_frequency,
    spectral_axis,
)

__all__ = ["HIAdapter", "moment_set", "is_hi_cube", "HI_BAND"]

#: Observed-frequency band (GHz) in which a FREQ cube without RESTFRQ is taken as HI.
HI_BAND = (0.9, 1.43)
_VELOCITY_CTYPES = ("VELO", "FELO", "VRAD", "VOPT")
_MOMENT = re.compile(r"^(?P<prefix>.+)_mom(?P<order>[012])(?P<ext>\.fits(?:\.gz)?)$", re.I)


def _frequency_ghz(header, axis):
    unit = u.Unit(str(header.get(f"CUNIT{axis}", "Hz")).strip() or "Hz")
    return (float(header.get(f"CRVAL{axis}", 0.0)) * unit).to_value(u.GHz)


def is_hi_cube(header):
    """True for a radio cube with a velocity axis, or a frequency axis at HI.

    Cubes whose TELESCOP names ALMA are left to the ALMA adapter.
    """
    if header is None or int(header.get("NAXIS", 0)) < 3:
        return False
    if "ALMA" in str(header.get("TELESCOP", "")).upper():
        return False
    axis, ctype = spectral_axis(header)
    if axis is None or int(header.get(f"NAXIS{axis}", 0)) < 2:
        return False
    if ctype[:4] in _VELOCITY_CTYPES:
        return True
    if ctype.startswith("FREQ"):
        rest = rest_frequency(header)
        if rest is not None:
            return abs(rest - HI_REST_FREQUENCY.to_value(u.GHz)) < 1e-3
        try:
            return HI_BAND[0] <= _frequency_ghz(header, axis) <= HI_BAND[1]
        except (ValueError, TypeError):
            return False
    return False


def moment_set(path):
    """``{0: mom0, 1: mom1, 2: mom2 or None}`` next to ``path``, or None.

    ``path`` is any of ``<name>_mom0.fits``, ``<name>_mom1.fits``,
    ``<name>_mom2.fits`` (optionally gzipped); moments 0 and 1 must both exist.
    """
    path = Path(path)
    match = _MOMENT.match(path.name)
    if match is None:
        return None
    prefix, ext = match["prefix"], match["ext"]
    files = {k: path.with_name(f"{prefix}_mom{k}{ext}") for k in (0, 1, 2)}
    if not (files[0].is_file() and files[1].is_file()):
        return None
    if not files[2].is_file():
        files[2] = None
    return files


def _read_map(path):
    with quiet_fits(), open_fits(path) as hdul:
        header = hdul[0].header.copy()
        data = hdul[0].data
        if data is None:
            raise GalkinError(f"{path} has no image in its primary HDU.")
        data = np.asarray(data, dtype=float).squeeze()
    if data.ndim != 2:
        raise GalkinError(f"{path} is not a 2-D moment map (shape {data.shape}).")
    return data, header


def _sibling_cube_range(prefix_path):
    """Spectral range (unit of the axis) of ``<name>.fits`` or ``<name>_cube.fits``, or None."""
    for suffix in (".fits", ".fits.gz", "_cube.fits", "_cube.fits.gz"):
        cube = prefix_path.with_name(prefix_path.name + suffix)
        if not cube.is_file():
            continue
        from galkin.io.loading import read_primary_header

        header = read_primary_header(cube)
        axis, ctype = spectral_axis(header)
        if axis is None or ctype[:4] not in _VELOCITY_CTYPES:
            return None
        unit = u.Unit(str(header.get(f"CUNIT{axis}", "m/s")).strip() or "m/s")
        n, crpix = int(header[f"NAXIS{axis}"]), float(header.get(f"CRPIX{axis}", 1.0))
        crval, cdelt = float(header[f"CRVAL{axis}"]), float(header[f"CDELT{axis}"])
        ends = crval + (np.array([1.0, n]) - crpix) * cdelt
        half = abs(cdelt) / 2
        return u.Quantity([ends.min() - half, ends.max() + half], unit).to(KM_S), cube
    return None


class HIAdapter(SurveyAdapter):
    """HI interferometer cubes (VLA, WSRT, ...) and SoFiA moment maps -> `~galkin.KinematicMaps`.

    See the module docstring for the conventions.
    """

    name = "hi"

    @classmethod
    def identify(cls, path, header):
        """True for an HI cube (:func:`is_hi_cube`) or a 2-D map of a moment set."""
        if header is None:
            return False
        if int(header.get("NAXIS", 0)) >= 2 and moment_set(path) is not None:
            shape = [int(header.get(f"NAXIS{i}", 1)) for i in range(1, header["NAXIS"] + 1)]
            return sum(n > 1 for n in shape) == 2
        return is_hi_cube(header)

    @classmethod
    def primary(cls, path):
        """Of a SoFiA moment set only the moment-1 map stands for the galaxy; cubes always."""
        match = _MOMENT.match(Path(path).name)
        return match is None or match["order"] == "1"

    def load(self, path, *, beam=None, return_cube=False, velocity_range=None, **kwargs):
        """Read an HI cube (moments via :func:`galkin.io.cube.maps_from_cube`) or moment maps.

        Parameters
        ----------
        path : `pathlib.Path`
            A cube, or any map of a moment set.
        beam : `radio_beam.Beam` or `~astropy.units.Quantity`, optional
            Overrides the header's beam; required when the file has none.
        return_cube : bool, optional
            For a cube: return the `~spectral_cube.SpectralCube` (with the header
            beam attached) instead of maps.
        velocity_range : `~astropy.units.Quantity`, optional
            For moment maps: ``(low, high)``; moment-1 values outside are masked.
            Default: the spectral range of the sibling cube, if any.
        **kwargs
            For a cube, passed to :func:`galkin.io.cube.maps_from_cube`
            (``rest_frequency``, ``mask``, ``clip_sigma``, ``noise``, ``region``,
            ``name``, priors); for moment maps ``name``, ``region``, ``center``,
            ``position_angle`` and ``systemic_velocity``.

        Returns
        -------
        `~galkin.KinematicMaps` or `~spectral_cube.SpectralCube`
        """
        files = moment_set(path)
        if files is not None and return_cube:
            raise GalkinError(f"{Path(path).name} is a moment map, not a cube: drop return_cube.")
        if files is not None:
            return self._load_moments(files, beam=beam, velocity_range=velocity_range, **kwargs)
        from galkin.io.loading import read_primary_header

        header = read_primary_header(path)
        axis, ctype = spectral_axis(header)
        assumed = (
            axis is not None
            and ctype.startswith("FREQ")
            and rest_frequency(header) is None
            and kwargs.get("rest_frequency") is None
        )
        if assumed:
            kwargs["rest_frequency"] = HI_REST_FREQUENCY
        result = cube_to_maps(
            path, header, survey=self.name, beam=beam, return_cube=return_cube, **kwargs
        )
        if not return_cube:
            result.meta["rest_frequency_assumed_hi"] = assumed
        return result

    def _load_moments(
        self,
        files,
        *,
        beam=None,
        velocity_range=None,
        name=None,
        region=None,
        center=None,
        position_angle=None,
        systemic_velocity=None,
    ):
        (m0, h0), (m1, h1) = _read_map(files[0]), _read_map(files[1])
        m2, h2 = _read_map(files[2]) if files[2] is not None else (None, None)
        for order, data in ((1, m1), (2, m2)):
            if data is not None and data.shape != m0.shape:
                raise GalkinError(
                    f"{files[order].name} has shape {data.shape} but {files[0].name} has "
                    f"{m0.shape}: the moment maps must share one pixel grid."
                )
        speed_units = []
        for order, header in ((1, h1), (2, h2)):
            unit = None if header is None else parse_unit(header.get("BUNIT"))
            if header is not None and (unit is None or not unit.is_equivalent(KM_S)):
                raise GalkinError(
                    f"{files[order].name} has BUNIT {header.get('BUNIT')!r}, not a velocity "
                    "unit; fix the header (e.g. BUNIT = 'm/s') or build the maps yourself "
                    "with galkin.KinematicMaps."
                )
            speed_units.append(unit)
        unit0 = parse_unit(h0.get("BUNIT"), default=u.dimensionless_unscaled)
        moment0 = m0 * unit0
        if unit0.is_equivalent(u.Jy / u.beam * KM_S):
            moment0 = moment0.to(u.Jy / u.beam * KM_S)
        moment1 = (m1 * speed_units[0]).to(KM_S)
        dispersion = None if m2 is None else (m2 * speed_units[1]).to(KM_S)

        source = "argument"
        if beam is None:
            beam, source = required_header_beam(h1, files[1].name)
            if "BPA" not in h1:
                source += " (no BPA: PA taken as 0 deg)"

        with np.errstate(invalid="ignore"):
            mask = np.isfinite(m0) & np.isfinite(m1) & (m0 > 0)
        prefix = files[0].with_name(_MOMENT.match(files[0].name)["prefix"])
        range_source = "argument"
        if velocity_range is None:
            found = _sibling_cube_range(prefix)
            velocity_range, range_source = (None, None) if found is None else found
        n_outside = 0
        if velocity_range is not None:
            lo, hi = as_quantity(velocity_range, "velocity_range", "speed").to_value(KM_S)
            with np.errstate(invalid="ignore"):
                inside = (moment1.value >= lo) & (moment1.value <= hi)
            n_outside = int((mask & ~inside).sum())
            mask &= inside
            velocity_range = [lo, hi] * KM_S
        meta = {
            "survey": self.name,
            "source": "moment maps",
            "files": {f"mom{k}": str(p) for k, p in files.items() if p is not None},
            "origin": str(h1.get("ORIGIN", "")).strip() or None,
            "beam_source": source,
            "velocity_range": velocity_range,
            "velocity_range_source": None if velocity_range is None else str(range_source),
            "n_outside_velocity_range": n_outside,
        }
        wcs = celestial_wcs(h1)
        if wcs is None:
            raise GalkinError(
                f"{files[1].name} has no celestial WCS (CTYPE1/2 RA/Dec), so galkin cannot "
                "tell the pixel scale; wrap the maps yourself with "
                "galkin.KinematicMaps(..., pixel_scale=...)."
            )
        maps = KinematicMaps(
            moment0,
            moment1,
            dispersion=dispersion,
            mask=mask,
            beam=beam,
            wcs=wcs,
            center=center,
            position_angle=position_angle,
            systemic_velocity=systemic_velocity,
            name=name or str(h1.get("OBJECT", "")).strip() or prefix.name,
            meta=meta,
        )
        return maps if region is None else maps.restrict(region)
