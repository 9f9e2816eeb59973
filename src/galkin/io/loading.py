"""`galkin.load`: any survey file in, `KinematicMaps` out.

The survey adapters (:class:`~galkin.io.survey.SurveyAdapter` plugins) are asked in
turn, through the ``firstresult`` hook
:func:`~galkin.hookspecs.galkin_identify_survey`, whether they recognise the file
(from its name and, for FITS files, its primary header); the first that does
reads it, applying its survey's conventions and quality cuts.
"""

import gzip
import warnings
from pathlib import Path

from ..exceptions import GalkinError
from ..plugins import get_plugin_manager, list_survey_adapters

__all__ = ["load", "identify", "read_primary_header"]

_GZIP_MAGIC = b"\x1f\x8b"
_FITS_MAGIC = b"SIMPLE  ="


def _is_fits(path):
    """True when the file starts like a FITS file (also inside gzip)."""
    try:
        with open(path, "rb") as stream:
            start = stream.read(len(_FITS_MAGIC))
        if start[:2] == _GZIP_MAGIC:
            with gzip.open(path, "rb") as stream:
                start = stream.read(len(_FITS_MAGIC))
    except OSError:
        return False
    return start == _FITS_MAGIC


def read_primary_header(path):
    """The primary header of a FITS file (plain or gzipped), or None for anything else.

    Parameters
    ----------
    path : str or `pathlib.Path`

    Returns
    -------
    `astropy.io.fits.Header` or None
    """
    from astropy.io import fits
    from astropy.io.fits.verify import VerifyWarning

    path = Path(path)
    if not path.is_file() or not _is_fits(path):
        return None
    with warnings.catch_warnings():
        # Only identification: the adapter that reads the file reports what matters.
        warnings.simplefilter("ignore", VerifyWarning)
        try:
            return fits.getheader(path, 0)
        except (OSError, ValueError):
            return None


def _existing(path):
    try:
        path = Path(path).expanduser()
    except TypeError:
        raise GalkinError(
            f"path must be a file or directory name (str or pathlib.Path); got "
            f"{type(path).__name__}. To fit a cube or maps in memory, call galkin.fit directly."
        ) from None
    if not path.exists():
        raise GalkinError(f"No such file or directory: {str(path)!r}.")
    return path


def identify(path):
    """Return the survey adapter class that claims ``path``, or None.

    Parameters
    ----------
    path : str or `pathlib.Path`
        A file (FITS or not) or a directory.

    Returns
    -------
    type or None
        A `~galkin.io.survey.SurveyAdapter` subclass.
    """
    path = _existing(path)
    header = read_primary_header(path)
    return get_plugin_manager().hook.galkin_identify_survey(path=path, header=header)


def load(path, *, adapter=None, **kwargs):
    """Read a survey file with the adapter that recognises it.

    Parameters
    ----------
    path : str or `pathlib.Path`
        A cube, a set of moment maps or an IFU map file (or, for surveys that
        store one galaxy per directory, the directory).
    adapter : type, optional
        The adapter class :func:`identify` already returned for ``path`` (skips
        asking the adapters again).
    **kwargs
        Passed to the adapter's ``load`` (e.g. ``beam=``, quality-cut thresholds);
        see :doc:`/user_guide/surveys`.

    Returns
    -------
    `~galkin.KinematicMaps` or `~spectral_cube.SpectralCube`

    Raises
    ------
    GalkinError
        When the file does not exist or no adapter recognises it.
    RejectedGalaxy
        When the galaxy fails one of its survey's quality cuts.

    Examples
    --------
    >>> import galkin
    >>> maps = galkin.load("manga-7815-3702-MAPS-HYB10-GAU-MILESHC.fits.gz")  # doctest: +SKIP
    >>> maps.meta["survey"]  # doctest: +SKIP
    'manga'
    """
    path = _existing(path)
    if adapter is None:
        adapter = identify(path)
    if adapter is None:
        names = ", ".join(list_survey_adapters()) or "(none installed)"
        kind = "directory" if path.is_dir() else "FITS file" if _is_fits(path) else "file"
        raise GalkinError(
            f"No survey adapter recognises the {kind} {str(path)!r}; tried: {names}. "
            "For a spectral cube, read it with spectral_cube.SpectralCube.read(path) and pass "
            "it to galkin.fit; for moment maps, wrap them yourself with "
            "galkin.KinematicMaps(moment0, moment1, wcs=..., beam=...); for a new survey, "
            "write a SurveyAdapter plugin (see the 'Writing plugins' docs)."
        )
    try:
        return adapter().load(path, **kwargs)
    except TypeError as exc:
        if "unexpected keyword argument" not in str(exc):
            raise
        raise GalkinError(
            f"The {adapter.name!r} survey adapter, which reads {path.name}, does not take "
            f"that option ({exc}); its options are documented in "
            f"{adapter.__module__}.{adapter.__qualname__}.load."
        ) from exc
