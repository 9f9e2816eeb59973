"""Position-angle estimators: the interface and the shared angle conventions.

galkin measures position angles **east of north to the receding side of the
major axis** (the pafit convention), in degrees within [0, 360).
"""

import abc
from typing import ClassVar

import numpy as np

from .exceptions import GalkinError

__all__ = ["PositionAngleEstimator", "wrap_angle", "angle_difference", "validate_pixels"]


def wrap_angle(angle_deg):
    """Wrap an angle in degrees onto [0, 360)."""
    return np.mod(angle_deg, 360.0)


def angle_difference(a_deg, b_deg):
    """Signed difference ``a - b`` in degrees, wrapped onto [-180, 180)."""
    return np.mod(np.asarray(a_deg) - np.asarray(b_deg) + 180.0, 360.0) - 180.0


def validate_pixels(east, north, velocity, *, min_pixels=10):
    """Flatten the estimator inputs to float arrays and check them, naming what is wrong.

    Raises
    ------
    GalkinError
        Mismatched sizes, non-finite values, fewer than ``min_pixels`` pixels, or a
        constant velocity field.
    """
    east, north, velocity = (np.asarray(a, dtype=float).ravel() for a in (east, north, velocity))
    if not east.size == north.size == velocity.size:
        raise GalkinError(
            f"east, north and velocity must have the same size; got {east.size}, "
            f"{north.size} and {velocity.size}."
        )
    if not (np.isfinite(east).all() and np.isfinite(north).all() and np.isfinite(velocity).all()):
        raise GalkinError(
            "east, north and velocity must be finite: pass only the valid pixels "
            "(e.g. velocity[mask]) and leave out NaN blanks."
        )
    if east.size < min_pixels:
        raise GalkinError(
            f"Too few valid pixels ({east.size}) to fit a position angle; need at least "
            f"{min_pixels}."
        )
    if np.ptp(velocity) == 0:
        raise GalkinError("The velocity field is constant: it has no position angle.")
    return east, north, velocity


class PositionAngleEstimator(abc.ABC):
    """Estimates the kinematic position angle from a velocity field.

    Subclasses set ``name`` and implement :meth:`estimate`.
    """

    #: Registry name, e.g. ``"pafit"``.
    name: ClassVar[str]

    @abc.abstractmethod
    def estimate(self, east, north, velocity):
        """Return ``(pa_deg, error_deg)`` for one velocity field.

        Parameters
        ----------
        east, north : `numpy.ndarray`
            Offsets of the valid pixels from the kinematic centre (arcsec),
            east and north on the sky.
        velocity : `numpy.ndarray`
            Line-of-sight velocity minus the systemic velocity (km/s) at those pixels.

        Returns
        -------
        pa_deg, error_deg : float
            Position angle east of north to the **receding** side, and its 1-sigma error.
        """
