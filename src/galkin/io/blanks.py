"""Blanks written as a value: maps saved without NaN.

Many published maps mark the sky around the galaxy not with NaN but with one
constant -- 0, -1e30, a BLANK value. Read as data, that constant is a
velocity of 0 km/s (or -1e30) over most of the map. :func:`blank_fill` finds
it, so that `~galkin.KinematicMaps` and :func:`galkin.classify` treat it as the
blank it is.
"""

import numpy as np

__all__ = ["blank_fill", "FILL_FRACTION"]

#: One exact value held by at least this fraction of the valid pixels, and by most
#: of the valid pixels on the map's edge, is a fill for blanks, not a velocity.
FILL_FRACTION = 0.1


def blank_fill(velocity, valid):
    """The pixels that hold a fill value marking blanks, where a map has one.

    Maps written without NaN mark blanks with one constant -- 0, -1e30, a
    BLANK value -- over the sky around the galaxy: most of a real map. Such a
    value is the map's most frequent exact value, held by at least
    ``FILL_FRACTION`` of its valid pixels and by more than half of the valid
    pixels on its edge. A velocity field does not do that: even velocities
    quantised to channels share a value along one isovelocity strip, which
    touches the edge in a few places.

    Parameters
    ----------
    velocity : `numpy.ndarray`, shape ``(ny, nx)``
    valid : `numpy.ndarray` of bool
        Pixels to consider.

    Returns
    -------
    `numpy.ndarray` of bool
        The fill's pixels (all False when the map has no fill value).
    """
    none = np.zeros(np.shape(velocity), dtype=bool)
    values = velocity[valid]
    if values.size == 0:
        return none
    unique, counts = np.unique(values, return_counts=True)
    fill = unique[np.argmax(counts)]
    if not FILL_FRACTION * values.size <= counts.max() < values.size:
        return none  # no fill, or a constant map (which carries no kinematics)
    edge = np.zeros_like(none)
    edge[[0, -1], :] = edge[:, [0, -1]] = True
    edge &= valid
    if not edge.any() or np.mean(velocity[edge] == fill) <= 0.5:
        return none
    return valid & (velocity == fill)
