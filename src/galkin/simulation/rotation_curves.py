"""Rotation curves for :func:`galkin.simulate_cube`: how fast the particles go round.

A :class:`RotationCurve` is a function ``V(R)`` of radius (arcsec) given the
cube's ``v_max`` (km/s), ``r_turn`` and ``r_scale`` (arcsec), which set its
amplitude and radii. Families:

* :class:`Arctan` -- ``(2 v_max / pi) arctan(R / r_turn)`` (thesis Eq. 3.4;
  galkin's default);
* :class:`Courteau` -- Courteau (1997)'s multi-parameter curve, ``v_max (1 + x)^beta
  / (1 + x^gamma)^(1 / gamma)`` with ``x = r_turn / R``: ``gamma`` sets how
  sharply it turns over, ``beta > 0`` makes it rise above ``v_max`` and decline
  back (peaked), ``beta < 0`` keeps it rising;
* :class:`Polyex` -- the polyex curve of Giovanelli & Haynes (2002), ``v_max
  (1 - exp(-R / r_turn)) (1 + alpha R / r_turn)``: rising (``alpha > 0``), flat
  or declining (``alpha < 0``);
* :class:`DiscHalo` -- in the spirit of Persic, Salucci & Stel (1996): an
  exponential disc of scale length ``r_scale`` (Freeman 1970) plus a
  pseudo-isothermal halo of core radius ``r_turn``, added in quadrature; a
  heavy disc peaks near ``2.2 r_scale`` and declines onto the halo's plateau;
* :class:`Tabulated` -- any callable ``V(R)``.

The simulator then labels a curve that is not an arctan by its equivalent
arctan (:mod:`galkin.simulation.equivalent`). Independent of galkin's decoder code.
"""

import abc

import numpy as np
from astropy import units as u
from scipy import special

from ..exceptions import GalkinError
from ..units import KM_S

__all__ = [
    "RotationCurve",
    "Arctan",
    "Courteau",
    "Polyex",
    "DiscHalo",
    "Tabulated",
    "ROTATION_CURVES",
    "as_rotation_curve",
]


def _number(value, name, low, high):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise GalkinError(f"{name} must be a number in [{low}, {high}]; got {value!r}.")
    if not low <= float(value) <= high:
        raise GalkinError(f"{name} must lie in [{low}, {high}]; got {value!r}.")
    return float(value)


class RotationCurve(abc.ABC):
    """Circular speed ``V(R)`` of a simulated disc."""

    #: Name it is known by in ``simulate_cube(rotation_curve=...)``.
    name = "custom"
    #: Whether the cube's ``v_max`` / ``r_turn`` enter the curve.
    uses = ("v_max", "r_turn")

    @abc.abstractmethod
    def __call__(self, radius, v_max, r_turn, r_scale):
        """``V`` (km/s) at ``radius`` (arcsec array); ``v_max`` in km/s, radii in arcsec."""

    def __repr__(self):
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({fields})"


class Arctan(RotationCurve):
    """``V = (2 v_max / pi) arctan(R / r_turn)`` (thesis Eq. 3.4)."""

    name = "arctan"

    def __call__(self, radius, v_max, r_turn, r_scale):
        return (2.0 * v_max / np.pi) * np.arctan(np.asarray(radius) / r_turn)


class Courteau(RotationCurve):
    """Courteau (1997): ``V = v_max (1 + x)^beta / (1 + x^gamma)^(1/gamma)``, ``x = r_turn / R``.

    Parameters
    ----------
    beta : float, optional
        -0.9 to 0.9: above 0 the curve overshoots ``v_max`` and declines back onto
        it, below 0 it keeps rising towards it.
    gamma : float, optional
        0.5 to 20: how sharp the turnover is.
    """

    name = "courteau"

    def __init__(self, *, beta=0.0, gamma=2.0):
        self.beta = _number(beta, "beta", -0.9, 0.9)
        self.gamma = _number(gamma, "gamma", 0.5, 20.0)

    def __call__(self, radius, v_max, r_turn, r_scale):
        r = np.maximum(np.asarray(radius, dtype=float), 1e-9 * r_turn)
        log_x = np.log(r_turn / r)
        # in logs: (1 + x)^beta / (1 + x^gamma)^(1/gamma) overflows for x >> 1
        log_v = (
            self.beta * np.logaddexp(0.0, log_x)
            - np.logaddexp(0.0, self.gamma * log_x) / self.gamma
        )
        return v_max * np.exp(log_v)


class Polyex(RotationCurve):
    """Giovanelli & Haynes (2002): ``V = v_max (1 - exp(-R / r_turn)) (1 + alpha R / r_turn)``.

    Parameters
    ----------
    alpha : float, optional
        Outer slope, -0.04 to 0.3 (the curve stays positive out to 25 ``r_turn``).
    """

    name = "polyex"

    def __init__(self, *, alpha=0.0):
        self.alpha = _number(alpha, "alpha", -0.04, 0.3)

    def __call__(self, radius, v_max, r_turn, r_scale):
        x = np.asarray(radius, dtype=float) / r_turn
        return np.clip(v_max * -np.expm1(-x) * (1.0 + self.alpha * x), 0.0, None)


class DiscHalo(RotationCurve):
    """Exponential disc (Freeman 1970) plus pseudo-isothermal halo, in quadrature.

    ``V^2 = disc_fraction v_max^2 D(R / r_scale) + (1 - disc_fraction) v_max^2
    [1 - (r_turn / R) arctan(R / r_turn)]``, with ``D`` the thin exponential disc's
    ``V^2`` scaled to peak at 1 (at ``2.2 r_scale``): the disc's peak speed is
    ``sqrt(disc_fraction) v_max``, the halo's asymptote ``sqrt(1 - disc_fraction) v_max``.

    Parameters
    ----------
    disc_fraction : float, optional
        0-1: 0 is a halo alone (rising, then flat), near 1 a maximal disc
        (peaked, then declining).
    """

    name = "disc_halo"
    uses = ("v_max", "r_turn", "r_scale")
    _PEAK = None

    def __init__(self, *, disc_fraction=0.5):
        self.disc_fraction = _number(disc_fraction, "disc_fraction", 0.0, 1.0)

    @staticmethod
    def _disc(x):
        """Freeman's ``y^2 [I0 K0 - I1 K1](y)``, ``y = x / 2``, with ``x = R / r_scale``."""
        y = np.maximum(0.5 * np.asarray(x, dtype=float), 1e-9)
        # scaled Bessel functions: I_n(y) K_m(y) = ive(n, y) kve(m, y)
        return y**2 * (
            special.ive(0, y) * special.kve(0, y) - special.ive(1, y) * special.kve(1, y)
        )

    def __call__(self, radius, v_max, r_turn, r_scale):
        if DiscHalo._PEAK is None:
            DiscHalo._PEAK = float(self._disc(np.linspace(1.0, 4.0, 3001)).max())
        r = np.maximum(np.asarray(radius, dtype=float), 1e-9 * r_turn)
        disc = self._disc(r / r_scale) / DiscHalo._PEAK
        halo = 1.0 - (r_turn / r) * np.arctan(r / r_turn)
        f = self.disc_fraction
        return v_max * np.sqrt(np.clip(f * disc + (1.0 - f) * halo, 0.0, None))


class Tabulated(RotationCurve):
    """Any ``V(R)``: a callable taking radii (arcsec Quantity), returning speeds (Quantity).

    The cube's ``v_max`` and ``r_turn`` do not enter it.
    """

    uses = ()

    def __init__(self, function):
        if not callable(function):
            raise GalkinError(f"function must be callable; got {type(function).__name__}.")
        self.function = function

    def __call__(self, radius, v_max, r_turn, r_scale):
        r = np.asarray(radius, dtype=float)
        try:
            out = self.function(r * u.arcsec)
        except Exception as exc:
            raise GalkinError(
                f"The rotation-curve callable failed on radii in arcsec ({exc!r}); it must "
                "take an angular Quantity array and return speeds (a km/s Quantity)."
            ) from exc
        angles = u.dimensionless_angles()  # arctan() of a Quantity carries radians
        if not (isinstance(out, u.Quantity) and out.unit.is_equivalent(KM_S, angles)):
            raise GalkinError(
                "The rotation-curve callable must return a velocity Quantity (e.g. "
                f"200 * u.km / u.s * ...); got {type(out).__name__} "
                f"{getattr(out, 'unit', '(no unit)')}."
            )
        out = np.broadcast_to(out.to_value(KM_S, angles), r.shape).astype(float)
        if not np.all(np.isfinite(out)):
            raise GalkinError("The rotation-curve callable returned non-finite speeds.")
        return out


#: Names accepted by ``simulate_cube(rotation_curve=...)`` and what they build.
ROTATION_CURVES = {
    "arctan": Arctan,
    "courteau": Courteau,
    "polyex": Polyex,
    "disc_halo": DiscHalo,
}


def as_rotation_curve(value):
    """A :class:`RotationCurve` from an instance, a name in :data:`ROTATION_CURVES` or a callable.

    Examples
    --------
    >>> as_rotation_curve("polyex")
    Polyex(alpha=0.0)
    """
    if isinstance(value, RotationCurve):
        return value
    if isinstance(value, str):
        if value not in ROTATION_CURVES:
            raise GalkinError(
                f"rotation_curve {value!r} is not known; choose one of {sorted(ROTATION_CURVES)}, "
                "a galkin.simulation.rotation_curves instance, or a callable V(R) of an "
                "arcsec Quantity returning a km/s Quantity."
            )
        return ROTATION_CURVES[value]()
    if callable(value):
        return Tabulated(value)
    raise GalkinError(
        f"rotation_curve must be a name ({sorted(ROTATION_CURVES)}), a RotationCurve or a "
        f"callable V(R); got {type(value).__name__}."
    )
