"""Blanks written as a value: maps saved without NaN.

Many published maps mark the sky around the galaxy not with NaN but with one
constant -- 0, -1e30, a BLANK value. Read as data, that constant is a
velocity of 0 km/s (or -1e30) over most of the map. :func:`blank_fill` finds
it, so that `~galkin.KinematicMaps` and :func:`galkin.classify` treat it as the
blank it is. Cubes do the same (zeros beyond the primary beam or a mosaic's
edge), and zeros read as noise samples make the noise look several times
smaller than it is: :func:`constant_spectra` finds such spectra and
:class:`Blanked` reads the cube with them blank.
"""

import warnings

import numpy as np

from .noise import channel_blocks

__all__ = ["blank_fill", "constant_spectra", "Blanked", "FILL_FRACTION"]

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


def constant_spectra(data):
    """The spatial pixels of a cube whose spectrum is one value in every channel.

    A measured spectrum is never exactly constant (noise); a fill -- 0 beyond
    the primary beam, a BLANK value -- is. Pixels with fewer than two finite
    channels are left out (they are blank already, or carry too little to tell).

    Parameters
    ----------
    data : array-like, shape ``(n_channel, ny, nx)``
        Anything that slices along its first axis; NaN marks blanks.

    Returns
    -------
    `numpy.ndarray` of bool, shape ``(ny, nx)``
    """
    low = high = count = None
    for _, _, block in channel_blocks(data):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN pixels of a block
            lo, hi = np.nanmin(block, axis=0), np.nanmax(block, axis=0)
        n = np.isfinite(block).sum(axis=0)
        if low is None:
            low, high, count = lo, hi, n
        else:
            low, high, count = np.fmin(low, lo), np.fmax(high, hi), count + n
    return (count >= 2) & (low == high)


class Blanked:
    """A cube read with some spatial pixels blank (NaN) in every channel.

    Parameters
    ----------
    data : array-like, shape ``(n_channel, ny, nx)``
        Sliced along its first axis on demand (no copy of the whole cube).
    blank : `numpy.ndarray` of bool, shape ``(ny, nx)``
    """

    def __init__(self, data, blank):
        self.data, self.blank = data, np.asarray(blank, dtype=bool)
        self.shape = tuple(data.shape)
        self.ndim = len(self.shape)

    def __getitem__(self, key):
        block = np.array(self.data[key], dtype=np.float32)
        block[..., self.blank] = np.nan
        return block
