"""Moment-one map -> the fixed-size, normalised image a network sees.

One function, used both to build training images from simulations and to
prepare a user's map, so that the two can never drift apart:

1. crop to the square box around the valid (finite, unmasked) pixels (stray
   pixels beyond the 0.5 and 99.5 percentiles of their positions do not widen it);
2. resample to ``size x size`` (bilinear, thesis §3.2.3), blanks kept as a mask;
3. subtract the median velocity of the valid pixels (a robust systemic velocity);
4. clip ``|v|`` at its ``clip_percentile`` percentile (96, thesis §2.2.4), which
   also tames outliers, and divide by it: values in [-1, 1], blanks 0.

Pixels must be square; the orientation is kept (north up, east left).
"""

import numpy as np
from scipy import ndimage

from .exceptions import GalkinError

__all__ = ["velocity_image"]


def _square_box(mask):
    """Square box around the valid pixels, ignoring the outermost 0.5% on each side."""
    rows, cols = np.nonzero(mask)
    r0, r1 = np.percentile(rows, [0.5, 99.5])
    c0, c1 = np.percentile(cols, [0.5, 99.5])
    side = int(np.ceil(max(r1 - r0, c1 - c0))) + 3
    cy, cx = (r0 + r1) / 2, (c0 + c1) / 2
    return int(np.floor(cy - side / 2 + 0.5)), int(np.floor(cx - side / 2 + 0.5)), side


def velocity_image(velocity, mask=None, *, size=64, clip_percentile=96.0, min_pixels=10):
    """Crop, resample and normalise a moment-one map to ``size x size`` in [-1, 1].

    Parameters
    ----------
    velocity : array_like, shape ``(ny, nx)``
        Line-of-sight velocities in any one unit (a plain array: the scale is
        returned, so callers strip units first). NaN marks blanks.
    mask : array_like of bool, optional
        `True` for valid pixels, combined with the finite pixels.
    size : int, optional
        Output side in pixels.
    clip_percentile : float, optional
        Percentile of ``|v - median|`` that maps to +-1.
    min_pixels : int, optional
        Fewer valid pixels raise `~galkin.GalkinError`.

    Returns
    -------
    image : `numpy.ndarray`, shape ``(size, size)``
        Normalised velocities, 0 at blanks.
    valid : `numpy.ndarray` of bool, shape ``(size, size)``
        The explicit mask.
    scale : float
        Velocity (input units) that maps to 1.
    """
    vel = np.asarray(velocity, dtype=float)
    if vel.ndim != 2:
        raise GalkinError(f"A moment-one map must be 2-D; got shape {vel.shape}.")
    valid = np.isfinite(vel)
    if mask is not None:
        valid &= np.asarray(mask, dtype=bool)
    if valid.sum() < min_pixels:
        raise GalkinError(
            f"The moment-one map has {int(valid.sum())} valid pixels; need at least "
            f"{min_pixels} to classify it."
        )
    y0, x0, side = _square_box(valid)
    pad = side
    filled = np.pad(np.where(valid, vel, 0.0), pad)
    weight = np.pad(valid.astype(float), pad)
    sl = (slice(y0 + pad, y0 + pad + side), slice(x0 + pad, x0 + pad + side))
    filled, weight = filled[sl], weight[sl]
    if side != size:
        zoom = size / side
        coords = (np.arange(size) + 0.5) / zoom - 0.5
        grid = np.meshgrid(coords, coords, indexing="ij")
        num = ndimage.map_coordinates(filled, grid, order=1, mode="nearest")
        weight = ndimage.map_coordinates(weight, grid, order=1, mode="nearest")
        filled = np.divide(num, weight, out=np.zeros_like(num), where=weight > 0)
    out_mask = weight >= 0.5
    values = filled[out_mask]
    if values.size < min_pixels:
        raise GalkinError("Too few valid pixels survive resampling to classify the map.")
    values = values - np.median(values)
    scale = float(np.percentile(np.abs(values), clip_percentile))
    if not scale > 0:
        raise GalkinError("The moment-one map is constant: it carries no kinematics.")
    image = np.zeros((size, size))
    image[out_mask] = np.clip(values / scale, -1.0, 1.0)
    return image, out_mask, scale
