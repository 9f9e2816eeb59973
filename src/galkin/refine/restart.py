"""Restart a fit whose position angle ran into the refinement's bound.

The network sees each galaxy's maps rotated to a position angle estimated from
the velocity field (:mod:`galkin.preprocess`), and the refinement moves it by at
most ``pa_offset``'s bound (+-15 deg). Where the estimate is further off than
that -- on the referee's KinMS ``hard`` set once in 40 cubes, an edge-on, thick,
slowly rotating disc at S/N 8 whose estimate was 40 deg off -- the refined
position angle ends at the bound and the inclination, fitted in the wrong frame,
is far off too (53.6 deg for a disc at 77.0). :func:`restart_at_pa_bound`
prepares such a galaxy's maps again at the refined position angle and fits them
again (network and refinement), up to `MAX_RESTARTS` times while the angle stays
at the bound; the restart replaces the first fit (whose angle was held at the
bound) and a `GalkinWarning` says so. Position angles the user gave are kept
(the bound is then theirs to widen).
"""

import dataclasses
import warnings

import numpy as np
from astropy import units as u

from ..exceptions import GalkinWarning
from ..preprocess import prepare

__all__ = ["restart_at_pa_bound", "MAX_RESTARTS"]

#: Restarts tried per galaxy (each from the last one's refined position angle).
MAX_RESTARTS = 2


def _at_pa_bound(target, output):
    """Whether a refined fit of an *estimated* position angle ended at the bound."""
    ref = output.refinement
    estimated = target.scales.position_angle_error > 0
    return ref is not None and estimated and "pa_offset" in ref.at_bound


def _fitted_position_angle(target, output):
    """The refined position angle (deg east of north), from the frame and its offset."""
    offset = np.degrees(output.refinement.value["pa_offset"])
    return float(np.mod(target.scales.position_angle + offset, 360.0))


def _reprepared(target, output):
    """``target``'s maps prepared again at the refined position angle (same centre,
    systemic velocity, field and size; a ``clip_percentile`` of the first
    preparation is not carried over). The estimator's error is kept, so a restart
    counts as an estimated position angle."""
    s = target.scales
    again = prepare(
        target.maps,
        size=s.size,
        center=s.center,
        systemic_velocity=s.systemic_velocity * u.km / u.s,
        position_angle=_fitted_position_angle(target, output) * u.deg,
        field=s.field * u.arcsec,
    )
    again.scales = dataclasses.replace(again.scales, position_angle_error=s.position_angle_error)
    return again


def restart_at_pa_bound(targets, outputs, model_outputs, fit_again):
    """Fit again, at the refined position angle, the galaxies whose angle hit the bound.

    Parameters
    ----------
    targets : list of `~galkin.preprocess.PreparedMaps`
    outputs : list of `~galkin.model.ModelOutput`
        Refined fits of ``targets``.
    model_outputs : list of `~galkin.model.ModelOutput`
        The model's own (unrefined) outputs of ``targets``.
    fit_again : callable
        ``fit_again(prepared) -> (model_outputs, refined_outputs)`` for a list of
        prepared maps.

    ``targets``, ``outputs`` and ``model_outputs`` are changed in place where a
    restart is kept. Returns the indices of the galaxies restarted.
    """
    first_angle = {}
    for _ in range(MAX_RESTARTS):
        todo = [
            j for j, (t, o) in enumerate(zip(targets, outputs, strict=True)) if _at_pa_bound(t, o)
        ]
        if not todo:
            break
        fresh = [_reprepared(targets[j], outputs[j]) for j in todo]
        new_model, new_refined = fit_again(fresh)
        for j, target, first, refined in zip(todo, fresh, new_model, new_refined, strict=True):
            first_angle.setdefault(j, targets[j].scales.position_angle)
            targets[j], outputs[j], model_outputs[j] = target, refined, first
    for j, angle in first_angle.items():
        warnings.warn(
            f"{targets[j].maps.name or 'galaxy'!r}: the position angle estimated from the "
            f"velocity field ({angle:.1f} deg) was beyond the refinement's reach of the "
            f"disc's; the fit was restarted at the refined angle, last from "
            f"{targets[j].scales.position_angle:.1f} deg.",
            GalkinWarning,
            stacklevel=3,
        )
    return list(first_angle)
