"""Closed-form maps of a razor-thin exponential disc with an arctan rotation curve.

Tests and benchmarks use these when they need a velocity field with a known
position angle and no noise model, cube or beam: they are cheap, exact and
independent of the decoder. The geometry follows galkin's conventions (position
angle east of north to the receding side; the image's east is -x).
"""

import numpy as np

__all__ = ["thin_disc"]


def thin_disc(
    pa,
    inclination,
    *,
    n=64,
    pixel=1.0,
    v_max=200.0,
    r_turn=4.0,
    r_scale=8.0,
    offset=(0.0, 0.0),
    noise=0.0,
    rng=None,
):
    """Sample a thin disc on an ``n x n`` pixel grid.

    Parameters
    ----------
    pa, inclination : float
        Degrees.
    n : int
        Pixels per side.
    pixel : float
        Pixel size in arcsec.
    v_max, r_turn, r_scale : float
        km/s, arcsec, arcsec.
    offset : tuple of float
        ``(dx, dy)`` of the kinematic centre from the grid centre, in pixels.
    noise : float
        Gaussian noise (km/s) added to the velocity.
    rng : `numpy.random.Generator`, optional

    Returns
    -------
    dict of str to `numpy.ndarray`
        ``east`` and ``north`` offsets from the centre (arcsec), in-plane ``radius``
        (arcsec), line-of-sight ``velocity`` about systemic (km/s) and face-on
        ``intensity`` (peak 1), each ``(n, n)``.

    Examples
    --------
    >>> d = thin_disc(90.0, 60.0, n=9)
    >>> bool(d["velocity"][4, 0] > 0)  # PA 90: receding side to the east (left)
    True
    """
    rows, cols = np.mgrid[:n, :n].astype(float)
    east = -(cols - (n - 1) / 2 - offset[0]) * pixel
    north = (rows - (n - 1) / 2 - offset[1]) * pixel
    p, i = np.radians(pa), np.radians(inclination)
    x_maj = east * np.sin(p) + north * np.cos(p)
    y_min = east * np.cos(p) - north * np.sin(p)
    radius = np.hypot(x_maj, y_min / np.cos(i))
    cos_phi = np.divide(x_maj, radius, out=np.zeros_like(radius), where=radius > 0)
    velocity = 2 * v_max / np.pi * np.arctan(radius / r_turn) * cos_phi * np.sin(i)
    if noise:
        rng = rng if rng is not None else np.random.default_rng()
        velocity = velocity + noise * rng.standard_normal(velocity.shape)
    return dict(
        east=east,
        north=north,
        radius=radius,
        velocity=velocity,
        intensity=np.exp(-radius / r_scale),
    )
