"""Helpers shared by the survey writers: a sky header and maps as plain arrays."""

import numpy as np
from astropy.io import fits

from galkin.exceptions import GalkinError
from galkin.units import as_value

__all__ = ["sky_header", "map_values"]


def sky_header(shape, pixel_scale, sky_center):
    """A TAN celestial WCS centred on the map, north up, east left."""
    ny, nx = shape
    ra, dec = (150.0, 2.0) if sky_center is None else (sky_center.ra.deg, sky_center.dec.deg)
    h = fits.Header()
    for axis, name, value, sign, n in ((1, "RA", ra, -1, nx), (2, "DEC", dec, 1, ny)):
        h[f"CTYPE{axis}"] = f"{name:-<4}-TAN"
        h[f"CRVAL{axis}"] = value
        h[f"CDELT{axis}"] = sign * pixel_scale / 3600.0
        h[f"CRPIX{axis}"] = (n + 1) / 2.0
        h[f"CUNIT{axis}"] = "deg"
    h["RADESYS"] = "ICRS"
    return h


def map_values(value, name, unit, shape=None):
    """A 2-D (or SAMI multi-component 3-D) Quantity as floats in ``unit``."""
    out = np.asarray(as_value(value, name, unit), dtype=float)
    if out.ndim not in (2, 3) or (shape is not None and out.shape[-2:] != shape):
        want = f"shape {shape}" if shape is not None else "a 2-D map"
        raise GalkinError(f"{name} must be {want}; got shape {out.shape}.")
    return out
