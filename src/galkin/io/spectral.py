"""The spectral axis of a cube: rest frequency, velocity convention, channel velocities.

Shared by the spectral-cube reader (:mod:`galkin.io.cube`) and the direct FITS
reader (:mod:`galkin.io.fitscube`), so that both read an axis the same way and
refuse the same ambiguous ones with the same messages.
"""

import numpy as np
from astropy import units as u

from ..exceptions import GalkinError
from ..units import KM_S, as_quantity

__all__ = ["find_rest_frequency", "check_convention", "channel_velocities", "CONVENTIONS"]

#: The Doppler conventions galkin converts frequency and wavelength axes with.
CONVENTIONS = {
    "radio": u.doppler_radio,
    "optical": u.doppler_optical,
    "relativistic": u.doppler_relativistic,
}
_CONVENTION_OF_CTYPE = {
    "VRAD": "radio",
    "VOPT": "optical",
    "FELO": "optical",
    "ZOPT": "optical",
    "VELO": "relativistic",
    "BETA": "relativistic",
}
_REST_EXAMPLES = "e.g. rest_frequency=230.538*u.GHz for CO(2-1), 1.420405751768*u.GHz for HI"


def find_rest_frequency(argument, wcs):
    """The rest frequency (GHz) from the argument or the WCS (RESTFRQ / RESTWAV), or None.

    Parameters
    ----------
    argument : `~astropy.units.Quantity` or None
        A frequency or a wavelength.
    wcs : `astropy.wcs.WCS`
    """
    if argument is not None:
        if not isinstance(argument, u.Quantity) or not argument.unit.is_equivalent(
            u.Hz, equivalencies=u.spectral()
        ):
            raise GalkinError(
                "rest_frequency must be a frequency or wavelength Quantity "
                f"({_REST_EXAMPLES}); got {argument!r}."
            )
        rest = as_quantity(argument, "rest_frequency", argument.unit, scalar=True)
        return rest.to(u.GHz, equivalencies=u.spectral())
    if wcs.wcs.restfrq > 0:
        return (wcs.wcs.restfrq * u.Hz).to(u.GHz)
    if wcs.wcs.restwav > 0:
        return (wcs.wcs.restwav * u.m).to(u.GHz, equivalencies=u.spectral())
    return None


def check_convention(ctype, unit, rest_frequency, velocity_convention):
    """The Doppler convention to convert a spectral axis with, checking the request.

    Parameters
    ----------
    ctype : str
        The axis' CTYPE (e.g. ``'FREQ'``, ``'VRAD'``, ``'VOPT-F2W'``).
    unit : `~astropy.units.UnitBase`
        The axis' unit.
    rest_frequency : `~astropy.units.Quantity` or None
        Rest frequency (:func:`find_rest_frequency`).
    velocity_convention : {None, 'radio', 'optical', 'relativistic'}
        The convention asked for.

    Returns
    -------
    convention : str or None
        The velocity axis' own convention (None when unknown), or the one to
        convert a frequency/wavelength axis with.
    is_velocity : bool
        Whether the axis is already a velocity.
    """
    if velocity_convention not in (None, *CONVENTIONS):
        raise GalkinError(
            "velocity_convention must be 'radio', 'optical', 'relativistic' or None (the "
            f"cube's own); got {velocity_convention!r}."
        )
    if unit.is_equivalent(KM_S):
        native = _CONVENTION_OF_CTYPE.get(ctype[:4])
        if velocity_convention not in (None, native):
            raise GalkinError(
                f"The cube's spectral axis is already a velocity ({ctype}, {native} "
                f"convention); galkin does not re-grid between conventions. Pass "
                f"velocity_convention=None or {native!r}."
            )
        return native, True
    if not unit.is_equivalent(u.Hz, equivalencies=u.spectral()):
        raise GalkinError(
            f"The cube's third axis ({ctype}, unit {unit}) is not spectral: expected a velocity, "
            "frequency or wavelength axis."
        )
    if rest_frequency is None:
        raise GalkinError(
            f"The cube's spectral axis is {ctype} ({unit}) and its header has no rest frequency "
            f"(RESTFRQ): pass rest_frequency= to convert it to velocity ({_REST_EXAMPLES})."
        )
    if velocity_convention is None:
        velocity_convention = "optical" if unit.physical_type == "length" else "radio"
    return velocity_convention, False


def channel_velocities(wcs, n_channel, *, rest_frequency=None, velocity_convention=None):
    """The velocity (km/s) of each channel of a cube's spectral axis.

    Parameters
    ----------
    wcs : `astropy.wcs.WCS`
        The cube's WCS (with a spectral axis).
    n_channel : int
    rest_frequency : `~astropy.units.Quantity`, optional
        Overrides the header's RESTFRQ/RESTWAV.
    velocity_convention : {None, 'radio', 'optical', 'relativistic'}, optional
        For frequency/wavelength axes (see :func:`check_convention`).

    Returns
    -------
    velocity : `numpy.ndarray`
        km/s, one per channel.
    info : dict
        ``spectral_axis`` (CTYPE), ``spectral_unit``, ``rest_frequency`` and
        ``velocity_convention``, for the maps' ``meta``.
    """
    spectral = wcs.spectral
    ctype = spectral.wcs.ctype[0]
    unit = u.Unit(spectral.wcs.cunit[0])
    rest = find_rest_frequency(rest_frequency, wcs)
    convention, is_velocity = check_convention(ctype, unit, rest, velocity_convention)
    world = spectral.pixel_to_world_values(np.arange(n_channel, dtype=float)) * unit
    if is_velocity:
        velocity = world.to_value(KM_S)
    else:
        velocity = world.to_value(KM_S, equivalencies=CONVENTIONS[convention](rest))
    info = {
        "spectral_axis": ctype,
        "spectral_unit": unit.to_string(),
        "rest_frequency": rest,
        "velocity_convention": convention,
    }
    return np.asarray(velocity, dtype=float), info
