"""Rotation curves ring by ring: the table `FitResult.rotation_curve` returns.

Every fit, whatever its velocity profile, reports its curve at the same kind of
radii a tilted-ring code would use, so models compare on one table: a ring
fit (``velocity="rings"``) at its own rings, a parametric fit (arctan, ...)
evaluated at the rings :func:`galkin.ring_layout.ring_radii` lays out for the
galaxy (every half beam out to the data's extent).
"""

import numpy as np
from astropy import units as u
from astropy.table import QTable

from .units import KM_S, as_value

__all__ = ["rotation_curve_table", "ring_edges"]


def ring_edges(radius):
    """Edges of the annuli around rings at ``radius``: halfway between neighbours.

    The first annulus starts at 0; the last ends as far beyond its ring as the
    previous edge lies before it.

    Parameters
    ----------
    radius : `numpy.ndarray`
        Increasing ring radii.

    Returns
    -------
    `numpy.ndarray`
        ``len(radius) + 1`` edges.

    Examples
    --------
    >>> ring_edges(np.array([1.0, 2.0, 3.0])).tolist()
    [0.0, 1.5, 2.5, 3.5]
    """
    r = np.asarray(radius, dtype=float)
    mid = 0.5 * (r[1:] + r[:-1])
    last = r[-1] + (r[-1] - mid[-1]) if r.size > 1 else 2 * r[-1]
    return np.concatenate([[0.0], mid, [last]])


def _default_radii(result):
    """The fit's own rings, or the rings laid out for its galaxy (field units)."""
    if getattr(result.velocity, "tabulated", False):
        return np.asarray(result.velocity.ring_radii(), dtype=float)
    from .ring_layout import ring_radii

    return ring_radii(result.prepared)


def _surface_density(result, r_field):
    """De-projected surface density at ``r_field`` and its error (moment-0 units)."""
    import torch

    names = result.intensity.parameter_names()
    r = torch.as_tensor(r_field, dtype=torch.float64)[None, :]

    def profile(params):
        p = {
            k: torch.as_tensor(np.atleast_1d(params[k]), dtype=torch.float64)[:, None]
            for k in names
        }
        with torch.no_grad():
            return result.intensity.evaluate(r, **p).numpy()

    scales = result.prepared.scales
    scale = result.output.amplitude * scales.flux
    value = profile(result.mean_parameters())[0] * scale
    draws = result.output.error_samples or result.output.samples
    lo, hi = np.percentile(profile(draws) * scale, [15.865, 84.135], axis=0)
    unit = u.Unit(scales.flux_unit)
    return value * unit, 0.5 * (hi - lo) * unit


def rotation_curve_table(result, radius=None):
    """The rotation curve of a fit, one row per ring.

    Parameters
    ----------
    result : `~galkin.FitResult`
    radius : `~astropy.units.Quantity`, optional
        Radii (angles, increasing) at which to report the curve; default the
        fit's rings (see the module notes).

    Returns
    -------
    `~astropy.table.QTable`
        ``radius`` (arcsec, in the disc plane); ``v_rot`` and ``v_rot_err``
        (km/s: the curve of the best fit and half the central 68% interval over
        the error samples, see `FitResult.velocity_at`); ``surface_density`` and
        ``surface_density_err`` (de-projected, face-on, in the unit of the input
        moment 0: the fitted intensity profile times the fitted flux scale, whose
        own error is not included); ``dispersion`` (km/s, the observed
        dispersion in each ring's annulus with the model's beam smearing removed
        in quadrature, NaN without a dispersion map); ``ring`` (1, 2, ...). The
        table's ``meta`` names the velocity profile and whether the radii are
        the profile's own rings (``fitted_rings``).
    """
    scales = result.prepared.scales
    if radius is None:
        r_field = _default_radii(result)
    else:
        r_field = np.atleast_1d(as_value(radius, "radius", u.arcsec)).astype(float) / scales.field
        if r_field.ndim != 1 or np.any(r_field < 0) or np.any(np.diff(r_field) <= 0):
            from .exceptions import GalkinError

            raise GalkinError(
                f"radius must be increasing, non-negative angles, e.g. [5, 10, 20] * u.arcsec; "
                f"got {radius!r}."
            )
    r_arcsec = r_field * scales.field
    v, v_err = result.velocity_at(r_arcsec * u.arcsec)
    sd, sd_err = _surface_density(result, r_field)
    edges = ring_edges(r_arcsec) if r_arcsec.size else np.zeros(1)
    dispersion = result._dispersion_in_bins(edges)
    table = QTable(
        {
            "ring": np.arange(1, r_field.size + 1),
            "radius": r_arcsec * u.arcsec,
            "v_rot": v.to(KM_S),
            "v_rot_err": v_err.to(KM_S),
            "surface_density": sd,
            "surface_density_err": sd_err,
            "dispersion": dispersion,
        }
    )
    table.meta["velocity_profile"] = result.velocity.name
    table.meta["intensity_profile"] = result.intensity.name
    table.meta["fitted_rings"] = bool(
        radius is None and getattr(result.velocity, "tabulated", False)
    )
    table.meta["name"] = result.name
    return table
