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

Profiles configured per galaxy
------------------------------
Most profiles are the same function for every galaxy. Some are not: a
``rings`` profile has one free value per ring, at radii that depend on the
galaxy's beam and extent. :meth:`DecoderProfile.configure` returns the profile
to use for one galaxy's prepared maps (the default: the profile itself);
``parameters`` may then be an *instance* attribute, and the methods that
describe the parameters (:meth:`~DecoderProfile.parameter_names`,
:meth:`~DecoderProfile.bounds`, ...) read the instance's when called on one.
Profiles compare equal when they are of one class with equal attributes, so
galaxies whose profiles are configured alike are fitted together.

A profile with many free values cannot be estimated directly by a network
trained on parametric discs; it names a parametric ``proxy`` whose estimate
starts its fit (:meth:`~DecoderProfile.from_proxy`), may add a smoothness
``regularization`` to the fit, and may give its derivatives in closed form
(:meth:`~DecoderProfile.jacobian`; otherwise the decoder differentiates
:meth:`~DecoderProfile.evaluate` with autograd, which must therefore be
pointwise in radius: each value depending on its own radius and parameters).

Third-party packages register new profiles through the
:func:`~galkin.hookspecs.galkin_register_profiles` hook and prove them with the
contract tests in :mod:`galkin.testing`.
"""

import abc
import functools
import types
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
    lower_is_physical : bool
        The lower bound is a physical limit, not the edge of a search range (a
        surface density of zero in a hole): a fit that ends there is an answer,
        and is not flagged ``at_bound``.
    """

    name: str
    kind: str
    bounds: tuple
    description: str = ""
    lower_is_physical: bool = False

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


class _either_method:
    """A method bound to the instance when called on one, and to the class otherwise.

    Lets ``parameter_names()`` and friends read an instance's own ``parameters``
    (a profile configured for one galaxy) while still working on the class.
    """

    def __init__(self, func):
        self.__func__ = func
        functools.update_wrapper(self, func)

    def __get__(self, obj, cls=None):
        return types.MethodType(self.__func__, cls if obj is None else obj)


class DecoderProfile(abc.ABC):
    """Base class of every decoder profile.

    Subclasses set the class attributes ``name`` (unique registry name among
    profiles of its kind), ``parameters`` (a tuple of :class:`Parameter`) and
    implement :meth:`evaluate` with differentiable torch operations only.
    Optional hooks: :meth:`configure`, :meth:`from_proxy` with ``proxy``,
    :meth:`regularization` and :meth:`jacobian`.
    """

    #: Registry name, e.g. ``"exponential"``.
    name: ClassVar[str]
    #: The free parameters, in the order the encoder outputs them (a configured
    #: instance may hold its own).
    parameters: ClassVar[tuple]
    #: ``"intensity"`` or ``"velocity"``; set by the two intermediate classes.
    kind: ClassVar[str]
    #: Name of a registered parametric profile of the same kind whose estimate
    #: starts this profile's fit (see :meth:`from_proxy`); None when a model
    #: estimates the profile's parameters directly.
    proxy: ClassVar[str | None] = None
    #: True when the parameters are the profile's values at ring radii: they are
    #: reported ring by ring (``FitResult.rotation_curve``), not as columns.
    tabulated: ClassVar[bool] = False

    @_either_method
    def parameter_names(cls):
        """Names of the free parameters, in order."""
        return tuple(p.name for p in cls.parameters)

    @_either_method
    def parameter_units(cls):
        """Mapping of parameter name to the `~astropy.units.Unit` it is reported in."""
        return {p.name: p.unit for p in cls.parameters}

    @_either_method
    def bounds(cls):
        """Mapping of parameter name to its ``(low, high)`` bounds in decoder units."""
        return {p.name: p.bounds for p in cls.parameters}

    def configure(self, prepared):
        """The profile to fit one galaxy with.

        Parameters
        ----------
        prepared : `~galkin.preprocess.PreparedMaps`
            The galaxy's network maps and scales (beam, field of view).

        Returns
        -------
        DecoderProfile
            This profile (the default), or one set up for this galaxy -- e.g. ring
            radii from its beam and extent.
        """
        return self

    def from_proxy(self, proxy, values):
        """Starting values of this profile's parameters from a fitted ``proxy`` profile.

        Only profiles that set ``proxy`` implement it.

        Parameters
        ----------
        proxy : DecoderProfile
            An instance of the registered profile named by ``proxy``.
        values : dict of str to `numpy.ndarray`
            ``(T,)`` samples of each of the proxy's parameters (decoder units).

        Returns
        -------
        dict of str to `numpy.ndarray`
            ``(T,)`` samples of each of this profile's parameters.
        """
        from .exceptions import PluginError

        raise PluginError(
            f"profile {self.name!r} (proxy={self.proxy!r}) does not implement "
            "from_proxy(proxy, values): a profile that names a proxy must map the proxy's "
            "fitted parameters to its own starting values."
        )

    def regularization(self, **params):
        """Extra residuals that keep poorly constrained parameters well behaved.

        The refinement adds their squares to its objective (a prior), so each
        should be a deviation divided by the tolerance allowed for it.

        Parameters
        ----------
        **params : `torch.Tensor`
            ``(B,)`` per parameter, decoder units.

        Returns
        -------
        `torch.Tensor` or None
            ``(B, M)`` residuals, differentiable; None (the default) for none.
        """
        return None

    def jacobian(self, radius, **params):
        """Derivatives of :meth:`evaluate` with respect to every parameter.

        Optional: without them the decoder differentiates :meth:`evaluate`
        by automatic differentiation at every quadrature node; closed forms
        save that (ring profiles, with tens of values, give theirs).

        Parameters
        ----------
        radius : `torch.Tensor`
            As for :meth:`evaluate`.
        **params : `torch.Tensor`
            As for :meth:`evaluate`.

        Returns
        -------
        `torch.Tensor` or None
            Shape of the evaluated profile plus a last axis, one entry per
            parameter in ``parameter_names()`` order; None (the default) when the
            profile gives no derivatives.
        """
        return None

    def _state(self):
        return tuple(sorted(vars(self).items()))

    def __eq__(self, other):
        return type(self) is type(other) and self._state() == other._state()

    def __hash__(self):
        return hash((type(self), self._state()))

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

    The parameters of kind ``"velocity"`` are speeds (projected, ``V sin i``);
    the profile must be linear in them jointly: ``V(R; a v) = a V(R; v)``. A
    parametric curve has exactly one, its amplitude; a ring profile has one
    per ring.
    """

    kind = "velocity"

    @_either_method
    def velocity_parameters(cls):
        """Names of the parameters of kind ``"velocity"`` (the speeds)."""
        names = tuple(p.name for p in cls.parameters if p.kind == "velocity")
        if not names:
            raise TypeError(
                f"Velocity profile {cls.name!r} must have at least one parameter of kind "
                "'velocity' (its amplitude, or its speed at each ring)."
            )
        return names

    @_either_method
    def amplitude(cls):
        """Name of the amplitude, the single parameter of kind ``"velocity"``.

        None when the profile has several (one speed per ring).
        """
        names = cls.velocity_parameters()
        return names[0] if len(names) == 1 else None
