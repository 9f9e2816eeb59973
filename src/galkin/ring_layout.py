"""Where the rings go: ring radii from a galaxy's beam and extent.

A tilted-ring curve is sampled at radii set by the data: every half beam
(`SPACING_BEAMS` of the beam's FWHM, as 3D-Barolo's rings are a beam or less
apart) from the centre out to `data_extent`, the radius the emission reaches
along the major axis -- the one direction in which the sky radius *is* the
radius in the disc plane, whatever the inclination. Ring profiles
(``intensity="rings"``, ``velocity="rings"``) are fitted at these radii, and
`FitResult.rotation_curve` evaluates every other profile at them, so models
compare on one table.

Radii here are in units of the network's field of view (decoder units); the
public arguments are angles.
"""

import numpy as np
from astropy import units as u

from .exceptions import GalkinError
from .preprocess import FWHM_PER_SIGMA
from .units import as_value

__all__ = [
    "SPACING_BEAMS",
    "MAX_RINGS",
    "MIN_RINGS",
    "EXTENT_PERCENTILE",
    "data_extent",
    "ring_radii",
]

#: Default ring spacing in units of the beam's FWHM (major axis).
SPACING_BEAMS = 0.5
#: Most rings laid out by default (wider spacing beyond): bounds a fit's cost.
MAX_RINGS = 30
#: Fewest rings of a curve.
MIN_RINGS = 2
#: Percentile of the valid pixels' distance along the major axis taken as the
#: data's extent (robust to a few noise pixels beyond the disc).
EXTENT_PERCENTILE = 99.0


def data_extent(prepared):
    """How far the emission reaches along the major axis (field units).

    The `EXTENT_PERCENTILE` percentile of ``|x|`` -- the distance along the
    network's major axis from the map centre -- over the valid pixels.

    Parameters
    ----------
    prepared : `~galkin.preprocess.PreparedMaps`

    Returns
    -------
    float
    """
    size = prepared.mask.shape[1]
    columns = np.nonzero(prepared.mask > 0)[1]
    if columns.size == 0:
        raise GalkinError("the prepared maps have no valid pixel: there is no ring to lay out.")
    x = np.abs((columns - (size - 1) / 2.0) / size)
    return float(np.percentile(x, EXTENT_PERCENTILE) + 0.5 / size)


def _default_spacing(prepared):
    """Half the beam's FWHM (field units); two network pixels without a beam."""
    size = prepared.mask.shape[1]
    beam = prepared.scales.beam
    if beam is None:
        return 2.0 / size
    return max(SPACING_BEAMS * FWHM_PER_SIGMA * beam[0], 1.0 / size)


def ring_radii(prepared, *, spacing=None, n_rings=None, radii=None):
    """Ring radii of one galaxy, in field units (the centre, R = 0, excluded).

    Parameters
    ----------
    prepared : `~galkin.preprocess.PreparedMaps`
    spacing : `~astropy.units.Quantity`, optional
        Angle between rings (default half the beam's FWHM; two network pixels
        without a beam); rings run from one spacing out to the data's extent.
    n_rings : int, optional
        Number of rings, spread evenly out to the data's extent (instead of
        ``spacing``).
    radii : `~astropy.units.Quantity`, optional
        Explicit ring radii (angles, increasing, positive): used as they are.

    Returns
    -------
    `numpy.ndarray`
        Increasing radii, field units. By default at most `MAX_RINGS` (the
        spacing widens for galaxies that span more beams).

    Examples
    --------
    >>> import numpy as np
    >>> from astropy import units as u
    >>> from galkin.fitting import prepare_maps
    >>> from galkin.simulation.simulate import simulate_cube
    >>> cube = simulate_cube(inclination=60 * u.deg, position_angle=30 * u.deg,
    ...                      v_max=200 * u.km / u.s, r_turn=4 * u.arcsec,
    ...                      r_scale=8 * u.arcsec, beam=3 * u.arcsec, snr=20,
    ...                      n_particles=100_000, seed=1)
    >>> r = ring_radii(prepare_maps(cube)) * u.one
    >>> bool(np.allclose(np.diff(r), r[0]))  # evenly spaced
    True
    >>> len(r) <= MAX_RINGS
    True
    """
    field = prepared.scales.field
    if sum(x is not None for x in (spacing, n_rings, radii)) > 1:
        raise GalkinError("pass at most one of spacing=, n_rings= and radii=.")
    if radii is not None:
        out = np.atleast_1d(as_value(radii, "radii", u.arcsec)) / field
        if out.size < MIN_RINGS or np.any(out <= 0) or np.any(np.diff(out) <= 0):
            raise GalkinError(
                f"radii must be at least {MIN_RINGS} positive, increasing angles, e.g. "
                "radii=[10, 20, 30] * u.arcsec."
            )
        return out.astype(float)
    extent = data_extent(prepared)
    if n_rings is not None:
        n = int(n_rings)
        if n < MIN_RINGS or n != n_rings:
            raise GalkinError(f"n_rings must be an integer >= {MIN_RINGS}; got {n_rings!r}.")
        return extent * np.arange(1, n + 1) / n
    if spacing is not None:
        step = as_value(spacing, "spacing", u.arcsec, scalar=True) / field
        if not step > 0:
            raise GalkinError(f"spacing must be a positive angle; got {spacing!r}.")
        n = max(MIN_RINGS, int(np.floor(extent / step + 0.5)))
        return step * np.arange(1, n + 1)
    n = int(np.clip(np.floor(extent / _default_spacing(prepared) + 0.5), MIN_RINGS, MAX_RINGS))
    return extent * np.arange(1, n + 1) / n
