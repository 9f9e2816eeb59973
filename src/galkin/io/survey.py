"""The survey-adapter interface: identify a file and load it into `KinematicMaps`."""

import abc
from typing import ClassVar

__all__ = ["SurveyAdapter"]


class SurveyAdapter(abc.ABC):
    """Reads one survey's files, applying that survey's documented conventions.

    Subclasses set ``name`` and implement :meth:`identify` and :meth:`load`;
    register them with the :func:`~galkin.hookspecs.galkin_register_survey_adapters` hook.
    """

    #: Registry name, e.g. ``"manga"``.
    name: ClassVar[str]

    @classmethod
    @abc.abstractmethod
    def identify(cls, path, header):
        """Return `True` when this adapter can read ``path``.

        Parameters
        ----------
        path : `pathlib.Path`
        header : `astropy.io.fits.Header` or None
            The primary header when the file is FITS.
        """

    @classmethod
    def primary(cls, path):
        """Whether ``path`` stands for its galaxy when a directory is scanned.

        Surveys that store one galaxy in several files keep one of them (SAMI:
        the velocity map, not the Halpha and dispersion maps beside it), so that
        ``galkin survey DIR`` fits each galaxy once.  Default: every file.

        Parameters
        ----------
        path : `pathlib.Path`
            A file this adapter identified.
        """
        return True

    @abc.abstractmethod
    def load(self, path, **kwargs):
        """Read ``path`` and return `~galkin.KinematicMaps` (or a `~spectral_cube.SpectralCube`)."""
