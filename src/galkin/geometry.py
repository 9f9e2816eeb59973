"""Sky and disc-plane coordinates of map pixels.

Position angles are east of north to the receding side; the disc frame has its
+x axis along the receding major axis (see :mod:`galkin.decoder`).
"""

import numpy as np

__all__ = ["rotation_to_disc", "sky_offsets", "disc_radius"]


def rotation_to_disc(position_angle_deg):
    """2x2 matrix turning (east, north) offsets into (major, minor) offsets."""
    pa = np.radians(position_angle_deg)
    return np.array([[np.sin(pa), np.cos(pa)], [np.cos(pa), -np.sin(pa)]])


def sky_offsets(maps, center, *, valid_only=False):
    """(east, north) offsets in arcsec of every pixel (or of the valid ones) from ``center``.

    Parameters
    ----------
    maps : `~galkin.KinematicMaps`
    center : tuple of float
        ``(x, y)`` pixel position.
    valid_only : bool, optional
        Return 1-D arrays over ``maps.mask`` instead of 2-D maps.
    """
    if valid_only:
        yy, xx = np.nonzero(maps.mask)
    else:
        yy, xx = np.indices(maps.shape)
    offsets = np.stack([xx - center[0], yy - center[1]]).astype(float)
    east, north = np.tensordot(maps.sky_jacobian, offsets, axes=1)
    return east, north


def disc_radius(east, north, position_angle_deg, inclination_deg):
    """In-plane (de-projected) radius of sky offsets, in their units."""
    major, minor = np.tensordot(rotation_to_disc(position_angle_deg), np.stack([east, north]), 1)
    cos_i = max(np.cos(np.radians(inclination_deg)), 1e-3)
    return np.hypot(major, minor / cos_i)
