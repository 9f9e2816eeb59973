"""Helpers shared by the survey adapters: quiet FITS reading, units, beams, quality cuts.

Nothing here imports spectral-cube at import time: the adapters are registered
whenever the plugin manager is built, and that must stay fast.
"""

import contextlib
import gzip
import io
import re
import sys
import warnings

import numpy as np
from astropy import units as u
from astropy.io import fits
from astropy.wcs import FITSFixedWarning
from radio_beam import Beam

from galkin.exceptions import GalkinError, RejectedGalaxy
from galkin.units import KM_S, as_value

__all__ = [
    "quiet_fits",
    "read_cube",
    "cube_to_maps",
    "open_fits",
    "spectral_axis",
    "HI_REST_FREQUENCY",
    "parse_unit",
    "header_beam",
    "required_header_beam",
    "snr_cut",
    "check_rotation",
    "check_catalogue_flag",
    "speed_threshold",
]


def _number(text):
    return float(str(text).upper().replace("D", "E"))


def _card(header, key):
    try:
        value = _number(header[key])
    except (KeyError, TypeError, ValueError):
        return None
    return value if np.isfinite(value) else None


@contextlib.contextmanager
def quiet_fits():
    """Silence the notes astropy and spectral-cube emit on reading well-formed survey files.

    ``FITSFixedWarning`` (astropy repairing 'DEGREE' units, NCP -> SIN, VELO-HEL ->
    VOPT, MJD/DATE cards), spectral-cube's ``StokesWarning`` (a cube with a Stokes
    axis of length one is read as its Stokes I cube, which is what galkin wants) and
    astropy's ``UnitsWarning`` on BUNIT strings with several slashes.
    """
    utils = sys.modules.get("spectral_cube.utils")  # only cube readers import spectral-cube
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        warnings.simplefilter("ignore", u.UnitsWarning)
        if utils is not None:
            warnings.simplefilter("ignore", utils.StokesWarning)
        yield


def read_cube(path):
    """Read a FITS cube with spectral-cube (Stokes I of a Stokes cube, beam table if any)."""
    from galkin.io.cube import SpectralCube

    with quiet_fits():
        try:
            return SpectralCube.read(path)
        except Exception as exc:  # spectral-cube raises several types for unreadable cubes
            raise GalkinError(
                f"spectral-cube could not read {path} as a cube ({type(exc).__name__}: {exc})."
            ) from exc


#: Rest frequency of the HI 21-cm line.
HI_REST_FREQUENCY = 1.420405751768 * u.GHz

_SPECTRAL_CTYPES = ("FREQ", "VRAD", "VOPT", "VELO", "FELO", "WAVE", "ZOPT", "AWAV", "BETA")


def spectral_axis(header):
    """``(number, CTYPE)`` of the header's spectral axis (1-based), or ``(None, None)``."""
    if header is None:
        return None, None
    for i in range(1, int(header.get("NAXIS", 0)) + 1):
        ctype = str(header.get(f"CTYPE{i}", "")).strip().upper()
        if ctype[:4] in _SPECTRAL_CTYPES:
            return i, ctype
    return None, None


def rest_frequency(header):
    """RESTFRQ (or the older RESTFREQ) in GHz, or None."""
    for key in ("RESTFRQ", "RESTFREQ"):
        value = _card(header, key)
        if value and value > 0:
            return value / 1e9
    return None


def cube_to_maps(path, header, *, survey, beam=None, return_cube=False, **kwargs):
    """Read a radio cube and take its moments (:func:`galkin.io.fitscube.maps_from_fits`).

    Single-beam cubes are read directly into arrays; multi-beam and Stokes cubes
    through spectral-cube (:func:`galkin.io.cube.maps_from_cube`).  The beam is
    handled explicitly: ``beam`` if given, else the cube's beam table (a
    multi-beam cube is convolved to its common beam), else the header's beam
    (:func:`header_beam`); without any, a GalkinError asks for ``beam=``.

    Returns
    -------
    `~galkin.KinematicMaps`, or the `~spectral_cube.SpectralCube` when ``return_cube``.
    """
    if header is None:
        raise GalkinError(f"{path} is not a FITS file: expected a FITS cube.")
    if not return_cube:  # the direct FITS reader, for the single-beam cubes it reads
        from galkin.io.fitscube import maps_from_fits, read_fits_cube

        with quiet_fits():
            try:
                fast = read_fits_cube(path)
            except (OSError, ValueError) as exc:
                raise GalkinError(f"{path} is not a readable FITS cube ({exc}).") from exc
        if fast is not None:
            source = "argument"
            if beam is None:
                beam, source = required_header_beam(header, path)
            maps = maps_from_fits(fast, beam=beam, **kwargs)
            return _provenance(maps, path, header, survey, source, multibeam=False)
    from galkin.io.cube import VaryingResolutionSpectralCube, maps_from_cube

    cube = read_cube(path)
    multibeam = isinstance(cube, VaryingResolutionSpectralCube)
    source = "argument"
    if beam is None and multibeam:
        source = f"beam table ({len(cube.beams)} channel beams, convolved to the common beam)"
    elif beam is None:
        beam, source = required_header_beam(header, path)
    if return_cube:
        if beam is not None and not multibeam:
            # Attaching the header's (or the user's) beam records the resolution the
            # data already have; spectral-cube guards Jy/beam cubes against changes.
            beam = beam if isinstance(beam, Beam) else Beam(beam)
            with quiet_fits():
                cube = cube.with_beam(beam, raise_error_jybm=False)
        return cube
    with quiet_fits():
        maps = maps_from_cube(cube, beam=beam, **kwargs)
    return _provenance(maps, path, header, survey, source, multibeam=multibeam)


def _provenance(maps, path, header, survey, beam_source, *, multibeam):
    maps.meta.update(
        survey=survey,
        files={"cube": str(path)},
        beam_source=beam_source,
        multibeam=multibeam,
        telescope=str(header.get("TELESCOP", header.get("INSTRUME", ""))).strip() or None,
        bunit=str(header.get("BUNIT", "")).strip() or None,
    )
    return maps


_STAR = re.compile(r"(?<!\*)\*(?!\*)")  # a product '*', not a power '**'
_ANGSTROM = re.compile(r"\bang\b", re.IGNORECASE)
_PER_SPAXEL = re.compile(r"/\s*(spaxel|spax|pixel|pix)\b", re.IGNORECASE)


def parse_unit(text, default=None):
    """The unit of a BUNIT string, reading ``a*b`` as a product and dropping '/spaxel'.

    SoFiA writes ``'Jy/beam*m/s'``, which astropy alone reads as Jy / (beam m s);
    MaNGA writes ``'1E-17 erg/s/cm^2/spaxel'`` (per spaxel is implied for a map)
    and ``'1E-17 erg/s/cm^2/ang/spaxel'`` (``ang``: angstrom).

    Examples
    --------
    >>> parse_unit("Jy/beam*m/s")
    Unit("Jy m / (beam s)")
    >>> parse_unit("1E-17 erg/s/cm^2/spaxel")
    Unit("1e-17 erg / (s cm2)")
    >>> parse_unit("1E-17 erg/s/cm^2/ang/spaxel")
    Unit("1e-17 erg / (Angstrom s cm2)")
    >>> parse_unit("no such unit", default=u.km / u.s)
    Unit("km / s")
    """
    text = str(text or "").strip()
    if not text:
        return default
    unit = u.dimensionless_unscaled
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", u.UnitsWarning)
        try:
            for part in _STAR.split(_ANGSTROM.sub("Angstrom", _PER_SPAXEL.sub("", text))):
                unit = unit * u.Unit(part.strip())
        except ValueError:
            return default
    return unit


_NUMBER = r"([-+]?\d*\.?\d+(?:[EeDd][-+]?\d+)?)"
_AIPS_HISTORY = re.compile(
    rf"BMAJ\s*=\s*{_NUMBER}\s+BMIN\s*=\s*{_NUMBER}\s+BPA\s*=\s*{_NUMBER}", re.IGNORECASE
)
_CASA_HISTORY = re.compile(
    rf"restoration:\s*{_NUMBER}\s*by\s*{_NUMBER}\s*\(arcsec\)(?:\s*at\s*pa\s*{_NUMBER})?",
    re.IGNORECASE,
)


def required_header_beam(header, path):
    """:func:`header_beam`, or a GalkinError asking for ``beam=`` when the header has none."""
    beam, source = header_beam(header)
    if beam is None:
        raise GalkinError(
            f"{path} has no beam (no BMAJ/BMIN cards, no AIPS/CASA beam in HISTORY, no "
            "BMMAJ/BMMIN): pass the restoring beam, e.g. galkin.fit(path, beam=Beam("
            "major=30*u.arcsec, minor=25*u.arcsec, pa=10*u.deg)), or galkin.fit(path, "
            "beam=30*u.arcsec) for a circular one (galkin.load takes the same argument)."
        )
    return beam, source


def header_beam(header):
    """The restoring beam recorded in a radio header, and where it was found.

    Looks, in order, at the standard BMAJ/BMIN/BPA cards (degrees), the last AIPS
    ``CLEAN BMAJ= BMIN= BPA=`` HISTORY card (degrees) or CASA "restoration: a by b
    (arcsec) at pa c" HISTORY card, and the WSRT/GIPSY BMMAJ/BMMIN/BMPA cards
    (arcsec).  A missing minor axis means a circular beam, a missing PA 0 deg.

    Returns
    -------
    beam : `radio_beam.Beam` or None
    source : str or None
        E.g. ``"header BMAJ/BMIN/BPA"``.

    Examples
    --------
    >>> from astropy.io import fits
    >>> h = fits.Header()
    >>> h["HISTORY"] = "AIPS   CLEAN BMAJ=  1.6667E-03 BMIN=  1.3889E-03 BPA=  30.00"
    >>> beam, source = header_beam(h)
    >>> round(float(beam.major.to_value(u.arcsec)), 1), source
    (6.0, 'HISTORY (AIPS CLEAN)')
    """
    major = _card(header, "BMAJ")
    if major and major > 0:
        minor = _card(header, "BMIN") or major
        pa = _card(header, "BPA") or 0.0
        return Beam(major * u.deg, minor * u.deg, pa * u.deg), "header BMAJ/BMIN/BPA"
    history = [str(line) for line in header.get("HISTORY", [])]
    for line in reversed(history):
        if m := _AIPS_HISTORY.search(line):
            major, minor, pa = (_number(g) for g in m.groups())
            return Beam(major * u.deg, minor * u.deg, pa * u.deg), "HISTORY (AIPS CLEAN)"
        if m := _CASA_HISTORY.search(line):
            major, minor = _number(m.group(1)), _number(m.group(2))
            pa = _number(m.group(3)) if m.group(3) else 0.0
            return Beam(major * u.arcsec, minor * u.arcsec, pa * u.deg), "HISTORY (CASA clean)"
    major = _card(header, "BMMAJ")
    if major and major > 0:
        minor = _card(header, "BMMIN") or major
        pa = _card(header, "BMPA") or 0.0
        beam = Beam(major * u.arcsec, minor * u.arcsec, pa * u.deg)
        return beam, "header BMMAJ/BMMIN/BMPA (WSRT/GIPSY, arcsec)"
    return None, None


def speed_threshold(value, name):
    """A cut threshold as a speed in km/s (None disables the cut)."""
    return as_value(value, name, KM_S, scalar=True, allow_none=True)


def snr_cut(good, signal, noise, snr_min):
    """Return ``(good & S/N >= snr_min, S/N map)``; blank or zero noise fails the cut."""
    with np.errstate(divide="ignore", invalid="ignore"):
        snr = np.where(noise > 0, signal / noise, np.nan)
    if snr_min is None:
        return good, snr
    if not float(snr_min) > 0:
        raise GalkinError(f"snr_min must be a positive number or None; got {snr_min!r}.")
    return good & (np.nan_to_num(snr, nan=-np.inf) >= float(snr_min)), snr


def check_rotation(velocity_kms, good, min_velocity, name):
    """Max ``|v|`` over the good spaxels; RejectedGalaxy below ``min_velocity`` (km/s)."""
    vmax = float(np.max(np.abs(velocity_kms[good]), initial=0.0))
    if min_velocity is not None and vmax < min_velocity:
        raise RejectedGalaxy(
            f"max |v| = {vmax:.1f} km/s over the good spaxels is below {min_velocity:g} km/s "
            "(no measurable rotation)",
            name,
        )
    return vmax


def check_catalogue_flag(catalogue, ids, name, flag_column="FLAG"):
    """Reject a galaxy whose catalogue FLAG is > 0 (the largest over its rows).

    Parameters
    ----------
    catalogue : `astropy.table.Table` or None
    ids : dict
        ``{column name: this galaxy's value}``; the first column present in the
        catalogue (case-insensitive) identifies the galaxy.
    name : str
        For the error message.
    flag_column : str, optional

    Returns
    -------
    int or None
        The flag (None without a catalogue).
    """
    if catalogue is None:
        return None
    columns = {c.upper(): c for c in catalogue.colnames}
    if flag_column.upper() not in columns:
        raise GalkinError(
            f"The catalogue has no {flag_column!r} column (columns: {catalogue.colnames})."
        )
    for key, value in ids.items():
        if key.upper() in columns:
            column = np.char.strip(np.asarray(catalogue[columns[key.upper()]]).astype(str))
            rows = column == str(value).strip()
            break
    else:
        raise GalkinError(
            f"The catalogue has none of the id columns {list(ids)} (columns: "
            f"{catalogue.colnames}); it cannot be matched to {name}."
        )
    if not rows.any():
        raise RejectedGalaxy(f"not in the quality-control catalogue (no row {ids})", name)
    flag = int(np.max(np.asarray(catalogue[columns[flag_column.upper()]])[rows]))
    if flag > 0:
        raise RejectedGalaxy(f"catalogue {flag_column} = {flag} > 0", name)
    return flag


def open_fits(path):
    """`astropy.io.fits.open` with a GalkinError naming the file when it is not FITS.

    A gzipped file is decompressed into memory first: astropy reads the extensions
    of a gzipped file lazily, seeking back and forth in the compressed stream,
    which decompresses it again for every extension read (a MaNGA MAPS file: 29 ms
    read this way, 76 ms otherwise).  The map files of IFU surveys are a few MB.
    """
    try:
        with open(path, "rb") as stream:
            start = stream.read(2)
            if start == b"\x1f\x8b":
                stream.seek(0)
                return fits.open(io.BytesIO(gzip.decompress(stream.read())))
        return fits.open(path)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise GalkinError(f"{path} is not a readable FITS file ({exc}).") from exc
