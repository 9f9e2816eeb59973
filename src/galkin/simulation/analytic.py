"""Closed-form maps of a razor-thin exponential disc with an arctan rotation curve.

Tests and benchmarks use these when they need a velocity field with a known
position angle and no noise model, cube or beam: they are cheap, exact and
independent of the decoder. The geometry follows galkin's conventions (position
angle east of north to the receding side; the image's east is -x).
"""

import numpy as np

__all__ = ["thin_disc", "irregular_mask", "MASK_KINDS"]

#: Kinds of coverage :func:`irregular_mask` makes.
MASK_KINDS = ("none", "ellipse", "holes", "partial")


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


def irregular_mask(disc, kind, rng, *, cut_angle=None):
    """Valid-pixel mask of a :func:`thin_disc` with realistic coverage.

    Parameters
    ----------
    disc : dict
        Output of :func:`thin_disc`.
    kind : {"none", "ellipse", "holes", "partial"}
        "ellipse": the disc edge at 0.45 of the map side; "holes": plus four random
        holes; "partial": plus one side of the field cut off.
    rng : `numpy.random.Generator`
    cut_angle : float, optional
        Direction (radians from east towards north) of the "partial" cut; random if
        omitted.

    Returns
    -------
    `numpy.ndarray` of bool
    """
    east, north, radius = disc["east"], disc["north"], disc["radius"]
    n = east.shape[0]
    pixel = abs(east[0, 1] - east[0, 0]) if n > 1 else 1.0
    side = n * pixel
    good = np.ones(radius.shape, dtype=bool)
    if kind != "none":
        good &= radius < 0.45 * side
    if kind in ("holes", "partial"):
        for _ in range(4):
            centre = rng.uniform(-0.3 * side, 0.3 * side, 2)
            good &= np.hypot(east - centre[0], north - centre[1]) > rng.uniform(2, 5) * pixel
    if kind == "partial":
        angle = rng.uniform(0, 2 * np.pi) if cut_angle is None else cut_angle
        good &= east * np.cos(angle) + north * np.sin(angle) < 0.2 * side
    return good
