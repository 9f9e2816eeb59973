"""How well does a rotating disc describe a velocity map? A fast least-squares test.

A regular rotator's moment-one map is, to first order, a thin disc: ``v = v_sys +
A (2 / pi) arctan(R / r_t) cos(phi)`` with ``R`` and ``phi`` the in-plane radius
and azimuth of each pixel for a centre, position angle and inclination. A
disturbed one is not. :func:`fit_rotating_disc` fits that model to a
(normalised) map with `scipy.optimize.least_squares` from a few starts -- the
position angle of the symmetry estimator and of the velocity gradient, a low
and a high inclination -- and reports the residual rms in units of the map's
velocity scale: the fraction of the field a rotating disc leaves unexplained.

It reads the velocity field alone, so it works on bare moment-one maps without
intensity, beam or WCS (the blind SAE reads the inclination from the moment-0
map and cannot). The classifier uses it beside the CAE's latent space
(:mod:`galkin_plugins.cae.decision`).
"""

import numpy as np
from scipy.optimize import least_squares

from .exceptions import GalkinError

__all__ = ["fit_rotating_disc", "DiscFit"]

#: At most this many pixels enter the fit (a regular subsample beyond it).
MAX_PIXELS = 1200


class DiscFit(dict):
    """Result of :func:`fit_rotating_disc` (a dict with attribute access).

    Keys: ``residual`` (rms of data - model over the valid pixels, in the map's
    units), ``position_angle`` (deg, east of north to the receding side),
    ``inclination`` (deg), ``amplitude``, ``r_turn`` and ``center`` (pixels,
    ``(x, y)``), ``systemic`` and ``rms`` (rms of the data about its mean).
    """

    __getattr__ = dict.__getitem__


def _model(params, x, y):
    x0, y0, pa, inc, amp, log_rt, vsys = params
    east, north = -(x - x0), y - y0
    p = np.radians(pa)
    major = east * np.sin(p) + north * np.cos(p)
    minor = (east * np.cos(p) - north * np.sin(p)) / np.cos(np.radians(inc))
    radius = np.hypot(major, minor) + 1e-9
    return vsys + amp * (2 / np.pi) * np.arctan(radius / np.exp(log_rt)) * major / radius


def _gradient_pa(x, y, v):
    design = np.column_stack([-x, y, np.ones_like(x)])
    (de, dn, _), *_ = np.linalg.lstsq(design, v, rcond=None)
    return float(np.degrees(np.arctan2(de, dn)))


def fit_rotating_disc(image, mask, *, position_angle=None):
    """Fit a thin rotating disc to a velocity map.

    Parameters
    ----------
    image : array_like, shape ``(ny, nx)``
        Velocities (e.g. the normalised image of `galkin.velocity_image.velocity_image`).
        North is up (+row), east is left (-column).
    mask : array_like of bool
        Valid pixels.
    position_angle : float, optional
        A first guess (deg), e.g. from the symmetry estimator; the velocity
        gradient and its perpendicular are always tried too.

    Returns
    -------
    DiscFit

    Raises
    ------
    GalkinError
        With fewer than 10 valid pixels.
    """
    image = np.asarray(image, dtype=float)
    mask = np.asarray(mask, dtype=bool) & np.isfinite(image)
    rows, cols = np.nonzero(mask)
    if rows.size < 10:
        raise GalkinError("A rotating disc needs at least 10 valid pixels to be fitted.")
    step = max(1, rows.size // MAX_PIXELS)
    y, x, v = rows[::step].astype(float), cols[::step].astype(float), image[mask][::step]
    ny, nx = image.shape
    spread = float(np.percentile(np.abs(v - np.median(v)), 95)) or 1.0
    size = float(max(ny, nx))
    lower = [x.min(), y.min(), -np.inf, 5.0, 0.0, np.log(0.3), v.min()]
    upper = [x.max(), y.max(), np.inf, 85.0, 4 * spread, np.log(size), v.max()]
    guesses = [_gradient_pa(x, y, v)]
    if position_angle is not None:
        guesses.append(float(position_angle))
    centre = (np.median(x), np.median(y))
    best = None
    for pa in guesses:
        for inc in (35.0, 70.0):
            start = [*centre, pa, inc, spread, np.log(0.15 * size), np.median(v)]
            start = np.clip(start, np.array(lower) + 1e-6, np.array(upper) - 1e-6)
            sol = least_squares(
                lambda p: _model(p, x, y) - v,
                start,
                bounds=(lower, upper),
                loss="soft_l1",
                f_scale=0.1 * spread,
                max_nfev=200,
            )
            if best is None or sol.cost < best.cost:
                best = sol
    x0, y0, pa, inc, amp, log_rt, vsys = best.x
    resid = _model(best.x, cols.astype(float), rows.astype(float)) - image[mask]
    return DiscFit(
        residual=float(np.sqrt(np.mean(resid**2))),
        position_angle=float(np.mod(pa, 360.0)),
        inclination=float(inc),
        amplitude=float(amp),
        r_turn=float(np.exp(log_rt)),
        center=(float(x0), float(y0)),
        systemic=float(vsys),
        rms=float(np.std(image[mask])),
    )
