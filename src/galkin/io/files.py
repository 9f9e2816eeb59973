"""The files of a survey: which files in a directory are galaxies, and plain velocity maps.

:func:`survey_files` turns the paths a user gives (``galkin survey DIR ...``)
into one file per galaxy: a directory is scanned (recursively) for FITS files,
and of the files a survey adapter recognises only those that stand for their
galaxy are kept (``SurveyAdapter.primary``: SAMI's
velocity map, not the Halpha and dispersion maps beside it).  Files given
explicitly are always kept.

:func:`read_velocity_map` reads a velocity map that no adapter knows -- a bare
2-D image, as many moment-one maps are published -- for :func:`galkin.classify`;
:func:`read_velocity_data` reads whatever a file holds (a survey's maps, a cube,
a bare image) for it.
"""

import warnings
from pathlib import Path

import numpy as np
from astropy import units as u

from ..exceptions import GalkinError
from ..units import KM_S
from .loading import identify, read_primary_header
from .maps import celestial_wcs

__all__ = [
    "read_velocity_data",
    "data_ndim",
    "galaxy_name",
    "survey_files",
    "read_velocity_map",
    "FITS_SUFFIXES",
]

#: File names a directory scan takes for FITS files.
FITS_SUFFIXES = (".fits", ".fits.gz", ".fit", ".fit.gz", ".fts")


def _is_fits_name(path):
    return path.name.lower().endswith(FITS_SUFFIXES)


def galaxy_name(path):
    """A galaxy's name from its file: the file name without ``.gz``, ``.fits``, ``.fit``
    or ``.fz`` (as `galkin.fit_many`, `galkin.classify` and the command line name rows)."""
    name = Path(path).name
    for suffix in (".gz", ".fits", ".fit", ".fz"):
        name = name.removesuffix(suffix)
    return name


def survey_files(paths):
    """One file per galaxy from files and directories.

    Parameters
    ----------
    paths : sequence of str or `pathlib.Path`
        Files (kept as given, readable or not: a run reports the ones that fail)
        and directories (scanned recursively for FITS files).

    Returns
    -------
    list of `pathlib.Path`
        In the order given; a directory's files sorted by name, without repeats.

    Raises
    ------
    GalkinError
        When a path does not exist.
    """
    found = []
    for path in (Path(p).expanduser() for p in paths):
        if path.is_dir():
            for file in sorted(p for p in path.rglob("*") if p.is_file() and _is_fits_name(p)):
                adapter = identify(file)
                if adapter is None or adapter.primary(file):
                    found.append(file)
        elif path.exists():
            found.append(path)
        else:
            raise GalkinError(f"No such file or directory: {str(path)!r}.")
    return list(dict.fromkeys(found))


def read_velocity_map(path, *, unit=KM_S, return_wcs=False):
    """A velocity map from a plain FITS image: the first 2-D image in the file.

    Parameters
    ----------
    path : str or `pathlib.Path`
    unit : `~astropy.units.UnitBase`, optional
        The unit of the values when the header has no velocity BUNIT.
    return_wcs : bool, optional
        Also return the image's celestial `~astropy.wcs.WCS` (None without one),
        which orients it on the sky.

    Returns
    -------
    `~astropy.units.Quantity`
        2-D, NaN for blanks; with ``return_wcs``, ``(map, wcs)``.
    """
    from astropy.io import fits
    from astropy.io.fits.verify import VerifyWarning

    if read_primary_header(path) is None:
        raise GalkinError(f"{path} is not a FITS file.")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", VerifyWarning)
        with fits.open(path) as hdul:
            for hdu in hdul:
                if hdu.data is not None and np.squeeze(hdu.data).ndim == 2:
                    data = np.asarray(np.squeeze(hdu.data), dtype=float)
                    header = hdu.header.copy()
                    break
            else:
                raise GalkinError(f"{path} holds no 2-D image to read a velocity map from.")
    bunit = str(header.get("BUNIT", "")).strip()
    try:
        header_unit = u.Unit(bunit) if bunit else None
    except ValueError:
        header_unit = None
    if header_unit is not None and header_unit.is_equivalent(KM_S):
        unit = header_unit
    velocity = (data * u.Unit(unit)).to(KM_S)
    return (velocity, celestial_wcs(header, data.shape)) if return_wcs else velocity


def read_velocity_data(path, *, return_wcs=False):
    """What a file holds, as :func:`galkin.classify` takes it.

    A file a survey adapter recognises is read by it (:func:`galkin.load`), a
    FITS cube becomes its moment maps (:func:`galkin.io.fitscube.maps_from_fits`),
    and anything else is read as a bare 2-D velocity image
    (:func:`read_velocity_map`; km/s without a velocity BUNIT -- a classification
    does not depend on the unit).

    Returns a `~galkin.KinematicMaps` or a velocity `~astropy.units.Quantity`;
    with ``return_wcs``, ``(that, wcs)``, the celestial `~astropy.wcs.WCS` that
    orients it on the sky (None without one).
    """
    from .fitscube import maps_from_fits
    from .loading import load

    path = Path(path)
    if not path.is_file():
        raise GalkinError(f"{path} does not exist (or is not a file).")
    if identify(path) is not None:
        read = load(path)
    elif data_ndim(path) >= 3:
        read = maps_from_fits(path)
    else:
        return read_velocity_map(path, return_wcs=return_wcs)
    return (read, getattr(read, "wcs", None)) if return_wcs else read


def _spans(header):
    """Axes of more than one pixel: 2 for a map written as a 4-D "cube" with one
    channel and one Stokes plane (as CASA exports moment maps), 3 for a cube."""
    return sum(
        int(header.get(f"NAXIS{k}", 1)) > 1 for k in range(1, int(header.get("NAXIS", 0)) + 1)
    )


def data_ndim(path):
    """Axes of more than one pixel of the first data array in a FITS file, from the
    headers alone (2 for a map, also one written with a single channel and Stokes plane;
    0 when the file cannot be read)."""
    from astropy.io import fits

    try:  # the stream is ours to close: astropy leaves it open when the file is corrupt
        with open(path, "rb") as stream, fits.open(stream) as hdul:
            for hdu in hdul:
                if int(hdu.header.get("NAXIS", 0)) > 0:
                    return _spans(hdu.header)
    except Exception:  # not FITS, or truncated: the caller's own message stands
        return 0
    return 0
