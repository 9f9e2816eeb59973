"""The reference position-angle estimator: Cappellari's pafit (Krajnovic et al. 2006).

pafit is the method the thesis uses to de-rotate maps (§4.2.4).  It is slow
(about 10 s for a 64x64 map: it triangulates the field once per trial angle, 361
times) and is kept as the reference that faster estimators are benchmarked
against (``benchmarks/bench_position_angle.py``).

pafit's conventions differ from galkin's: its ``x`` axis points **west**, its
angle is in [0, 180] (the axis along which ``|v|`` is largest, so the receding
side is not chosen) and its error is 3-sigma.  :class:`PafitEstimator`
converts all three.
"""

import numpy as np

from galkin.hookspecs import hookimpl
from galkin.position_angle import PositionAngleEstimator, validate_pixels, wrap_angle

__all__ = ["PafitEstimator", "galkin_register_pa_estimators"]


class PafitEstimator(PositionAngleEstimator):
    """Kinematic PA with `pafit.fit_kinematic_pa` (the slow reference).

    Parameters
    ----------
    nsteps : int, optional
        Number of trial angles over 0-180 deg (pafit's default, 361, is a 0.5 deg
        step).  Fewer steps run proportionally faster.
    dvel : float, optional
        Velocity uncertainty (km/s) pafit uses to scale chi^2; it sets the size
        of the error, not the angle.

    Notes
    -----
    pafit's angle ``a`` is measured counter-clockwise from ``+y`` with ``x``
    pointing west, so its axis is ``(sin a, cos a)`` in (east, north): the same
    angle as galkin's up to 180 deg.  The receding end is the one along which the
    velocities are positive on average.  pafit's 3-sigma error is divided by 3.

    Examples
    --------
    >>> import numpy as np
    >>> north, east = np.mgrid[-10:11, -10:11].reshape(2, -1).astype(float)
    >>> velocity = 100 * np.tanh(north / 3)  # receding to the north
    >>> pa, err = PafitEstimator(nsteps=91).estimate(east, north, velocity)
    >>> round(pa)
    0
    """

    name = "pafit"

    def __init__(self, *, nsteps=361, dvel=10.0):
        self.nsteps = int(nsteps)
        self.dvel = float(dvel)

    def estimate(self, east, north, velocity):
        """Position angle and 1-sigma error, as `PositionAngleEstimator.estimate`.

        The 1-sigma error is pafit's 3-sigma error divided by 3.
        """
        # Imported here: pafit imports matplotlib.pyplot, too slow for `import galkin`.
        from pafit.fit_kinematic_pa import fit_kinematic_pa

        east, north, velocity = validate_pixels(east, north, velocity)
        angle, error3, _ = fit_kinematic_pa(
            -east, north, velocity, nsteps=self.nsteps, dvel=self.dvel, quiet=True, plot=False
        )
        theta = np.radians(angle)
        along = east * np.sin(theta) + north * np.cos(theta)
        if np.sum(velocity * along) < 0:
            angle += 180.0
        return float(wrap_angle(angle)), float(error3) / 3.0


@hookimpl
def galkin_register_pa_estimators():
    """Register :class:`PafitEstimator` as ``"pafit"``."""
    return [PafitEstimator]
