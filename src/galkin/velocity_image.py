"""Moment-one map -> the fixed-size, normalised image a network sees.

One function, used both to build training images from simulations and to
prepare a user's map, so that the two can never drift apart. Real maps come in
any size (16-400 pixels), 26-94% blank, with outliers (+-50,000 km/s), off
centre, and about any systemic velocity; every step is generic:

1. reject outliers (:func:`valid_velocities`): a fill value standing for blanks
   (:func:`galkin.io.blanks.blank_fill`: 0, -1e30, ... where a map has no NaN),
   values far beyond the map's own velocity range, then pixels that disagree with
   the median of their neighbours by much more than the map's pixel-to-pixel scatter, and pixels
   with almost no valid neighbours (isolated noise);
2. crop to the square box around the valid pixels (stray pixels beyond the 0.5
   and 99.5 percentiles of their positions do not widen it), wherever the
   galaxy sits in the map;
3. resample to ``size x size`` (bilinear, thesis §3.2.3; a large map is first
   averaged over each output pixel, a Gaussian of half its width, so that
   structure finer than the output grid does not alias into it), blanks kept
   as a mask where at least half of the output pixel is valid;
4. subtract the systemic velocity, the mid-point of the 2nd and 98th
   percentiles of the valid velocities (as :func:`galkin.preprocess.prepare`
   does), which a one-sided coverage of the disc does not bias as a median would;
5. clip ``|v|`` at its ``clip_percentile`` percentile (96, thesis §2.2.4) and
   divide by it: values in [-1, 1], blanks 0.

Pixels must be square; the orientation is kept (north up, east left).
"""

import numpy as np
from scipy import ndimage

from .exceptions import GalkinError
from .io.blanks import blank_fill

__all__ = ["velocity_image", "valid_velocities", "roughness", "VERSION"]

#: Changes whenever the images change (cached training sets carry it in their names).
VERSION = 2

#: Values further than this many times the 95th percentile of ``|v - median|``
#: from the median are outliers (a disc's velocities span about 1x).
GLOBAL_OUTLIER = 3.0
#: A pixel further from its neighbours' median than this many robust sigmas of
#: all such differences (and more than ``LOCAL_FLOOR`` of the velocity range) is an outlier.
LOCAL_OUTLIER = 5.0
LOCAL_FLOOR = 0.25
#: Pixels with fewer valid neighbours (of 24 in the 5x5 box) are isolated noise.
MIN_NEIGHBOURS = 2


def _neighbour_median(vel, valid, radius=2):
    """Median of the valid neighbours (5x5 box, centre excluded) and their number."""
    ny, nx = vel.shape
    padded = np.pad(np.where(valid, vel, np.nan), radius, constant_values=np.nan)
    side = 2 * radius + 1
    stack = np.stack(
        [
            padded[r : r + ny, c : c + nx][valid]
            for r in range(side)
            for c in range(side)
            if (r, c) != (radius, radius)
        ]
    )
    count = np.isfinite(stack).sum(axis=0)
    median = np.full(count.shape, np.nan)
    some = count > 0
    median[some] = np.nanmedian(stack[:, some], axis=0)
    return median, count


def valid_velocities(velocity, valid, *, passes=2):
    """The valid pixels of a moment-one map once outliers are rejected.

    Parameters
    ----------
    velocity : `numpy.ndarray`, shape ``(ny, nx)``
    valid : `numpy.ndarray` of bool
        Pixels to consider (finite and unmasked).
    passes : int, optional
        Rounds of the neighbour test (each with the previous round's outliers gone).

    Returns
    -------
    `numpy.ndarray` of bool
        ``valid`` without a blank fill (:func:`~galkin.io.blanks.blank_fill`), outliers
        and isolated pixels.
    """
    valid = np.array(valid, dtype=bool)
    valid &= ~blank_fill(velocity, valid)
    values = velocity[valid]
    if values.size == 0:
        return valid
    centre = np.median(values)
    spread = np.percentile(np.abs(values - centre), 95)
    valid[valid] = np.abs(values - centre) <= GLOBAL_OUTLIER * spread + 1e-12
    for _ in range(passes):
        if valid.sum() < 3:
            break
        median, count = _neighbour_median(velocity, valid)
        residual = np.abs(velocity[valid] - median)
        known = count >= MIN_NEIGHBOURS
        if not known.any():
            break
        values = velocity[valid]
        scale = np.percentile(np.abs(values - np.median(values)), 96)
        sigma = 1.4826 * np.median(residual[known])
        limit = max(LOCAL_OUTLIER * sigma, LOCAL_FLOOR * scale)
        valid[valid] = known & (residual <= limit)
    return valid


def roughness(image, mask):
    """Robust pixel-to-pixel scatter of a map: 1.4826 x the median ``|v - median of its
    valid 3x3 neighbours|`` over the pixels with at least two of them (0 if none).

    On a normalised image it measures noise and small-scale disorder in units of
    the velocity scale; a smooth rotating disc gives nearly 0.
    """
    image = np.asarray(image, dtype=float)
    mask = np.asarray(mask, dtype=bool)
    median, count = _neighbour_median(image, mask, radius=1)
    known = count >= MIN_NEIGHBOURS
    if not known.any():
        return 0.0
    return float(1.4826 * np.median(np.abs(image[mask] - median)[known]))


def _square_box(mask):
    """Square box around the valid pixels, ignoring the outermost 0.5% on each side,
    with a margin of 5% of its side (so that a map looks alike at any pixel size)."""
    rows, cols = np.nonzero(mask)
    r0, r1 = np.percentile(rows, [0.5, 99.5])
    c0, c1 = np.percentile(cols, [0.5, 99.5])
    side = int(np.ceil((max(r1 - r0, c1 - c0) + 1) * 1.05))
    cy, cx = (r0 + r1) / 2, (c0 + c1) / 2
    return int(np.floor(cy - side / 2 + 0.5)), int(np.floor(cx - side / 2 + 0.5)), side


def velocity_image(
    velocity, mask=None, *, size=64, clip_percentile=96.0, min_pixels=10, reject_outliers=True
):
    """Clean, crop, resample and normalise a moment-one map to ``size x size`` in [-1, 1].

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
        Percentile of ``|v - v_sys|`` that maps to +-1.
    min_pixels : int, optional
        Fewer valid pixels raise `~galkin.GalkinError`.
    reject_outliers : bool, optional
        Apply :func:`valid_velocities` first (default).

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
    if valid.sum() >= min_pixels and reject_outliers:
        valid = valid_velocities(vel, valid)
    if valid.sum() < min_pixels:
        raise GalkinError(
            f"The moment-one map has {int(valid.sum())} valid pixels once blanks and outliers "
            f"are removed; need at least {min_pixels} to classify it."
        )
    y0, x0, side = _square_box(valid)
    pad = side
    filled = np.pad(np.where(valid, vel, 0.0), pad)
    weight = np.pad(valid.astype(float), pad)
    sl = (slice(y0 + pad, y0 + pad + side), slice(x0 + pad, x0 + pad + side))
    filled, weight = filled[sl], weight[sl]
    if side != size:
        shrink = side / size
        if shrink > 1.5:  # anti-alias: average over each output pixel before sampling
            filled = ndimage.gaussian_filter(filled * weight, 0.5 * shrink, mode="constant")
            weight = ndimage.gaussian_filter(weight, 0.5 * shrink, mode="constant")
        else:
            filled = filled * weight
        coords = (np.arange(size) + 0.5) * shrink - 0.5
        grid = np.meshgrid(coords, coords, indexing="ij")
        num = ndimage.map_coordinates(filled, grid, order=1, mode="nearest")
        weight = ndimage.map_coordinates(weight, grid, order=1, mode="nearest")
        filled = np.divide(num, weight, out=np.zeros_like(num), where=weight > 0)
    out_mask = weight >= 0.5
    values = filled[out_mask]
    if values.size < min_pixels:
        raise GalkinError("Too few valid pixels survive resampling to classify the map.")
    lo, hi = np.percentile(values, [2, 98])
    values = values - 0.5 * (lo + hi)
    scale = float(np.percentile(np.abs(values), clip_percentile))
    if not scale > 0:
        raise GalkinError("The moment-one map is constant: it carries no kinematics.")
    image = np.zeros((size, size))
    image[out_mask] = np.clip(values / scale, -1.0, 1.0)
    return image, out_mask, scale
