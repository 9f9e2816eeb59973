"""The exponential disc and arctan curve *equivalent* to any simulated galaxy.

galkin's blind network reports an exponential scale length and an arctan curve
(``v_max``, ``r_turn``). A simulated galaxy whose gas is a ring, or whose curve
declines, has no true value of those; its label is the least-squares fit of the
family to the galaxy's *true* profiles over the radii that hold gas (0 to
``r_out``, the disc's edge or the edge of the map):

* ``r_scale``: half the mean radius of the gas, ``<R> / 2`` with ``<R> = int
  Sigma R^2 dR / int Sigma R dR`` over all of it -- the exponential disc that
  holds its gas at the same mean radius (a least-squares fit of ``A exp(-R /
  r_scale)`` is no label for a ring or a hole: it runs off to a flat disc);
* ``v_max``, ``r_turn``: ``(2 v_max / pi) arctan(R / r_turn)`` fitted to the
  true ``V(R)``, each radius weighted by the gas it holds, ``Sigma(R) R dR``.

Both are exact for the families they fit: an exponential disc returns its own
scale length (the simulator uses it as it is when the disc is exponential), an
arctan curve its own ``v_max`` and ``r_turn``.
"""

import numpy as np
from scipy import optimize

from .rotation_curves import Arctan
from .surface_density import Exponential

__all__ = [
    "radial_grid",
    "equivalent_exponential",
    "equivalent_arctan",
    "equivalent_parameters",
    "gas_radius",
]


def radial_grid(r_out, n=512):
    """``n`` radii (arcsec) at the centres of equal steps from 0 to ``r_out``."""
    return (np.arange(n) + 0.5) * (r_out / n)


def _profile_fit(model, data, weight, log_bounds):
    """Best 1-D nonlinear parameter of ``amplitude * model(p)``, amplitude solved linearly."""

    def cost(log_p):
        shape = model(np.exp(log_p))
        amp = np.sum(weight * shape * data) / max(np.sum(weight * shape**2), 1e-300)
        return np.sum(weight * (data - amp * shape) ** 2), amp

    grid = np.linspace(*log_bounds, 121)  # coarse scan, then polish: the cost can be flat
    best = grid[np.argmin([cost(g)[0] for g in grid])]
    step = grid[1] - grid[0]
    res = optimize.minimize_scalar(
        lambda g: cost(g)[0],
        bounds=(max(best - step, log_bounds[0]), min(best + step, log_bounds[1])),
        method="bounded",
        options={"xatol": 1e-10},
    )
    return float(np.exp(res.x)), float(cost(res.x)[1])


def equivalent_exponential(radius, surface):
    """Scale length of the exponential disc with the mean radius of ``surface``: ``<R> / 2``.

    Parameters
    ----------
    radius : `numpy.ndarray`
        Evenly spaced radii (arcsec) out to the edge of the gas, e.g. :func:`radial_grid`.
    surface : `numpy.ndarray`
        Azimuthally averaged surface density there (any normalisation).

    Returns
    -------
    float
        ``r_scale`` in arcsec.

    Examples
    --------
    >>> import numpy as np
    >>> r = radial_grid(200.0, 20_000)
    >>> round(equivalent_exponential(r, 3.0 * np.exp(-r / 7.0)), 4)
    7.0
    >>> ring = np.exp(-0.5 * ((r - 12.0) / 1.0) ** 2)
    >>> round(equivalent_exponential(r, ring), 2)  # half the ring's mean radius
    6.04
    """
    radius = np.asarray(radius, dtype=float)
    mass = np.asarray(surface, dtype=float) * radius
    return float(0.5 * np.sum(mass * radius) / np.sum(mass))


def equivalent_arctan(radius, velocity, gas):
    """``(v_max, r_turn)`` of the arctan curve closest to ``velocity`` where there is gas.

    Parameters
    ----------
    radius : `numpy.ndarray`
        Radii (arcsec).
    velocity : `numpy.ndarray`
        True rotation speed there (km/s).
    gas : `numpy.ndarray`
        Surface density there: the weight of each radius is ``gas * radius``.

    Returns
    -------
    v_max : float
        km/s.
    r_turn : float
        arcsec, between 1e-4 and 1e2 times the largest radius.

    Examples
    --------
    >>> import numpy as np
    >>> r = radial_grid(40.0)
    >>> v, rt = equivalent_arctan(r, 127.32395 * np.arctan(r / 3.0), np.exp(-r / 8.0))
    >>> round(v, 2), round(rt, 4)
    (200.0, 3.0)
    """
    r_out = float(np.max(radius))
    log_bounds = (np.log(1e-4 * r_out), np.log(1e2 * r_out))
    weight = np.asarray(gas, dtype=float) * radius
    r_turn, amp = _profile_fit(
        lambda rt: (2.0 / np.pi) * np.arctan(radius / rt), velocity, weight, log_bounds
    )
    return amp, r_turn


def _extent(density, rscale, r_limit, map_radius):
    """Radius (arcsec) beyond which there is no gas, or none the cube can show."""
    return min(r_limit, 30.0 * rscale, 3.0 * map_radius)


def gas_radius(density, rscale, r_limit, map_radius):
    """Outer radius (arcsec) of the rotation-curve fit: the radius holding 99% of the
    gas, at most ``r_limit`` (the disc's edge) and ``map_radius`` (half the map's side)."""
    radius = radial_grid(_extent(density, rscale, r_limit, map_radius), 4096)
    mass = np.cumsum(density.radial(radius, rscale) * radius)
    r99 = radius[min(np.searchsorted(mass, 0.99 * mass[-1]), radius.size - 1)]
    return float(min(r99, map_radius))


def equivalent_parameters(density, curve, rscale, vmax, rturn, r_limit, map_radius):
    """Equivalent ``(r_scale, v_max, r_turn)`` of a simulated disc (arcsec, km/s, arcsec).

    ``density`` and ``curve`` are the simulator's profile objects; ``r_scale``
    comes from all the gas (out to ``r_limit``, the disc's edge), the curve's
    fit from 0 to :func:`gas_radius`. The profiles' own parameters for an
    exponential disc and an arctan curve.
    """
    r_eq, v_eq, rt_eq = rscale, vmax, rturn
    if not isinstance(density, Exponential):
        radius = radial_grid(_extent(density, rscale, r_limit, map_radius), 4096)
        r_eq = equivalent_exponential(radius, density.radial(radius, rscale))
    if not isinstance(curve, Arctan):
        radius = radial_grid(gas_radius(density, rscale, r_limit, map_radius))
        velocity = curve(radius, vmax, rturn, rscale)
        v_eq, rt_eq = equivalent_arctan(radius, velocity, density.radial(radius, rscale))
    return r_eq, v_eq, rt_eq
