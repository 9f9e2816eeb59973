"""Decoder profiles: the analytic functions the physics-aware decoder evaluates.

A profile is a differentiable function of radius with named, bounded parameters.
Two kinds exist:

* :class:`IntensityProfile` -- face-on surface brightness of the disc, peak of
  order one at the centre (the decoder fits the overall flux scale itself);
* :class:`VelocityProfile` -- circular rotation speed as a function of radius.

Units inside the decoder
------------------------
Radii (the ``radius`` argument and every parameter of kind ``"length"``) are
in units of the **field of view** the network sees (the side of the square map),
as in the thesis (r_scale 0.1-0.35, r_turn 0.01-0.8).  The single parameter of
kind ``"velocity"`` of a velocity profile is its amplitude, expressed in units
of the map's velocity scale and *projected* (``V_max sin i``): every rotation
curve is linear in its amplitude, which lets the encoder learn what the
moment-one map shows directly.  Parameters of kind ``"dimensionless"`` (shape
exponents) are used as they are.

Third-party packages register new profiles through the
:func:`~galkin.hookspecs.galkin_register_profiles` hook and prove them with the
contract tests in :mod:`galkin.testing`.
"""

import abc
from dataclasses import dataclass
from typing import ClassVar

from astropy import units as u

__all__ = ["Parameter", "DecoderProfile", "IntensityProfile", "VelocityProfile"]

_KIND_UNITS = {
    "length": u.arcsec,
    "velocity": u.km / u.s,
    "dimensionless": u.dimensionless_unscaled,
}


@dataclass(frozen=True)
class Parameter:
    """One free parameter of a profile.

    Parameters
    ----------
    name : str
        Python identifier, used as the keyword of `DecoderProfile.evaluate`.
    kind : {"length", "velocity", "dimensionless"}
        Decides the unit the parameter is reported in (arcsec, km/s, none) and
        how it is converted from the decoder's internal units (see module notes).
    bounds : tuple of float
        ``(low, high)`` physical range in decoder units (field fractions for
        lengths, velocity-scale units of ``V sin i`` for the amplitude). The
        encoders' bounded outputs are mapped linearly onto it.
    description : str
        One line for tables and docs.
    """

    name: str
    kind: str
    bounds: tuple
    description: str = ""

    def __post_init__(self):
        if self.kind not in _KIND_UNITS:
            raise ValueError(
                f"Parameter {self.name!r}: kind must be one of {sorted(_KIND_UNITS)}, "
                f"got {self.kind!r}."
            )
        low, high = self.bounds
        if not low < high:
            raise ValueError(
                f"Parameter {self.name!r}: bounds must be (low, high) with low < high."
            )
        if not self.name.isidentifier():
            raise ValueError(f"Parameter name {self.name!r} is not a Python identifier.")

    @property
    def unit(self):
        """`~astropy.units.Unit` in which galkin reports this parameter."""
        return _KIND_UNITS[self.kind]


class DecoderProfile(abc.ABC):
    """Base class of every decoder profile.

    Subclasses set the class attributes ``name`` (unique registry name),
    ``parameters`` (a tuple of :class:`Parameter`) and implement
    :meth:`evaluate` with differentiable torch operations only.
    """

    #: Registry name, e.g. ``"exponential"``.
    name: ClassVar[str]
    #: The free parameters, in the order the encoder outputs them.
    parameters: ClassVar[tuple]
    #: ``"intensity"`` or ``"velocity"``; set by the two intermediate classes.
    kind: ClassVar[str]

    @classmethod
    def parameter_names(cls):
        """Names of the free parameters, in order."""
        return tuple(p.name for p in cls.parameters)

    @classmethod
    def parameter_units(cls):
        """Mapping of parameter name to the `~astropy.units.Unit` it is reported in."""
        return {p.name: p.unit for p in cls.parameters}

    @classmethod
    def bounds(cls):
        """Mapping of parameter name to its ``(low, high)`` bounds in decoder units."""
        return {p.name: p.bounds for p in cls.parameters}

    @abc.abstractmethod
    def evaluate(self, radius, **params):
        """Evaluate the profile.

        Parameters
        ----------
        radius : `torch.Tensor`
            In-plane radius in units of the field of view, any shape.
        **params : `torch.Tensor`
            One tensor per parameter, broadcastable against ``radius``
            (typically shape ``(batch, 1, 1, 1)``).

        Returns
        -------
        `torch.Tensor`
            Same shape as ``radius`` broadcast with the parameters; differentiable
            with respect to every parameter.
        """

    def __repr__(self):
        return f"<{type(self).__name__} {self.name!r} ({', '.join(self.parameter_names())})>"


class IntensityProfile(DecoderProfile):
    """Face-on surface-brightness profile Sigma(R) of a disc (peak of order one)."""

    kind = "intensity"


class VelocityProfile(DecoderProfile):
    """Circular-velocity profile V(R).

    Exactly one parameter has kind ``"velocity"``: the amplitude, in which the
    profile must be linear (``V(R; a * amp) = a * V(R; amp)``).
    """

    kind = "velocity"

    @classmethod
    def amplitude(cls):
        """Name of the amplitude parameter (the one of kind ``"velocity"``)."""
        names = [p.name for p in cls.parameters if p.kind == "velocity"]
        if len(names) != 1:
            raise TypeError(
                f"Velocity profile {cls.__name__} must have exactly one parameter of kind "
                f"'velocity' (its amplitude); it has {names}."
            )
        return names[0]
