"""Validation of physical inputs at the public API boundary.

Every physical argument of the public API is an `~astropy.units.Quantity`.
These helpers check that once, name the offending argument in the error, and
convert to the unit the internals use.
"""

import numpy as np
from astropy import units as u

from .exceptions import GalkinError

__all__ = ["as_quantity", "as_value", "KM_S"]

#: Kilometres per second, the velocity unit galkin works in.
KM_S = u.km / u.s

_EXAMPLES = {
    u.get_physical_type("angle"): "45 * u.deg",
    u.get_physical_type("speed"): "200 * u.km / u.s",
    u.get_physical_type("length"): "3 * u.kpc",
    u.get_physical_type("frequency"): "230.538 * u.GHz",
}


def as_quantity(value, name, physical_type, *, scalar=False, allow_none=False):
    """Return ``value`` as a Quantity of ``physical_type`` or raise a clear error.

    Parameters
    ----------
    value : `~astropy.units.Quantity`
        The user's input.
    name : str
        Argument name, used in the error message.
    physical_type : str or `~astropy.units.UnitBase`
        Expected physical type (e.g. ``"angle"``, ``"speed"``) or a unit whose
        physical type is expected.
    scalar : bool, optional
        Require a scalar.
    allow_none : bool, optional
        Let `None` through unchanged.

    Returns
    -------
    `~astropy.units.Quantity` or None

    Examples
    --------
    >>> from astropy import units as u
    >>> as_quantity(30 * u.deg, "inclination", "angle")
    <Quantity 30. deg>
    >>> as_quantity(30, "inclination", "angle")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    galkin.exceptions.GalkinError: inclination must be an astropy Quantity ... with no units.
    """
    if value is None:
        if allow_none:
            return None
        raise GalkinError(f"{name} is required (an astropy Quantity of type '{physical_type}').")
    if isinstance(physical_type, u.UnitBase):
        expected_unit = physical_type
        physical_type = physical_type.physical_type
    else:
        expected_unit = None
        physical_type = u.get_physical_type(physical_type)
    example = _EXAMPLES.get(physical_type)
    if example is None:
        unit = expected_unit if expected_unit is not None else physical_type
        example = f"a Quantity in units of {unit}"
    if not isinstance(value, u.Quantity):
        shown = type(value).__name__
        brief = repr(value) if np.ndim(value) == 0 else f"array of shape {np.shape(value)}"
        raise GalkinError(
            f"{name} must be an astropy Quantity with physical type '{physical_type}' "
            f"(e.g. {name}={example}); got {shown} {brief} with no units."
        )
    if expected_unit is not None:
        ok = value.unit.is_equivalent(expected_unit)
    else:
        ok = value.unit.physical_type == physical_type
    if not ok:
        raise GalkinError(
            f"{name} must have physical type '{physical_type}' (e.g. {name}={example}); "
            f"got units of {value.unit} ({value.unit.physical_type})."
        )
    if scalar and not value.isscalar:
        raise GalkinError(f"{name} must be a scalar Quantity; got shape {value.shape}.")
    return value


def as_value(value, name, unit, *, scalar=False, allow_none=False):
    """Validate ``value`` like :func:`as_quantity` and return it as a float in ``unit``.

    Examples
    --------
    >>> from astropy import units as u
    >>> as_value(1 * u.arcmin, "r_scale", u.arcsec)
    60.0
    """
    q = as_quantity(value, name, u.Unit(unit), scalar=scalar, allow_none=allow_none)
    if q is None:
        return None
    out = q.to_value(unit)
    return float(out) if np.ndim(out) == 0 else np.asarray(out, dtype=float)
