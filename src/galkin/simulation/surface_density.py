"""Gas surface densities for :func:`galkin.simulate_cube`: where the particles go.

A surface density places ``n`` particles in the disc plane: :meth:`SurfaceDensity.sample`
returns their radii and azimuths, and :meth:`SurfaceDensity.radial` the azimuthally
averaged profile (unnormalised), from which the simulator defines the
*equivalent* exponential scale length of a disc that is not exponential
(:mod:`galkin.simulation.equivalent`). Lengths are angles on the sky (arcsec);
a length left as None is a fixed multiple of the cube's ``r_scale``.

Axisymmetric families: :class:`Exponential` (galkin's default), :class:`Ring`
(a Gaussian ring, optionally on a faint disc), :class:`Hole` (an exponential with
a central depression), :class:`Tabulated` (any ``Sigma(R)`` callable).
Non-axisymmetric ones wrap another: :class:`Spiral` (logarithmic arms) and
:class:`Clumpy` (part of the gas in Gaussian clumps). They compose, e.g.
``Clumpy(Spiral(Hole()))``.

This module shares no code with galkin's decoder profiles (:mod:`galkin.profiles`):
the simulator stays an independent test of the model.
"""

import abc

import numpy as np
from astropy import units as u

from ..exceptions import GalkinError
from ..units import as_value

__all__ = [
    "SurfaceDensity",
    "Exponential",
    "Ring",
    "Hole",
    "Tabulated",
    "Spiral",
    "Clumpy",
    "SURFACE_DENSITIES",
    "as_surface_density",
]

_GRID = 4096  # radial samples of the inverse-CDF sampler


def _length(value, name, *, allow_none=True):
    out = as_value(value, name, u.arcsec, scalar=True, allow_none=allow_none)
    if out is not None and not out > 0:
        raise GalkinError(f"{name} must be a positive angle; got {value}.")
    return out


def _fraction(value, name, low=0.0, high=1.0):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise GalkinError(f"{name} must be a number in [{low}, {high}]; got {value!r}.")
    if not low <= float(value) <= high:
        raise GalkinError(f"{name} must lie in [{low}, {high}]; got {value!r}.")
    return float(value)


def _sample_radii(surface, rng, n, r_limit):
    """Radii from ``surface(R)`` (per unit area) on [0, r_limit] by the inverse CDF."""
    radius = np.linspace(0.0, r_limit, _GRID)
    mass = np.clip(surface(radius), 0.0, None) * radius
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (mass[1:] + mass[:-1]))])
    if not cdf[-1] > 0:
        raise GalkinError(
            "The surface density holds no gas inside the simulated field (it is zero "
            "or negative everywhere); check its radii against the cube's size."
        )
    return np.interp(rng.uniform(0.0, cdf[-1], n), cdf, radius)


class SurfaceDensity(abc.ABC):
    """Face-on gas surface density ``Sigma(R, phi)`` of a simulated disc."""

    #: Name it is known by in ``simulate_cube(surface_density=...)``.
    name = "custom"

    @abc.abstractmethod
    def radial(self, radius, r_scale):
        """Azimuthally averaged ``Sigma(R)`` (unnormalised) at ``radius`` (arcsec, array)."""

    def sample(self, rng, n, r_scale, r_limit):
        """Radii (arcsec) and azimuths (rad) of ``n`` particles.

        Parameters
        ----------
        rng : `numpy.random.Generator`
        n : int
        r_scale : float
            The cube's scale length (arcsec): the unit of lengths left as None.
        r_limit : float
            No particle lies beyond this radius (arcsec): the gas disc's edge, or
            the farthest radius the cube can show.
        """
        radius = _sample_radii(lambda r: self.radial(r, r_scale), rng, n, r_limit)
        return radius, rng.uniform(0.0, 2.0 * np.pi, n)

    def __repr__(self):
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({fields})"


class Exponential(SurfaceDensity):
    """``Sigma = exp(-R / r_scale)`` (thesis Eq. 3.3): radii drawn from Gamma(2, r_scale)."""

    name = "exponential"

    def radial(self, radius, r_scale):
        return np.exp(-np.asarray(radius) / r_scale)

    def sample(self, rng, n, r_scale, r_limit):
        radius = rng.gamma(2.0, r_scale, n)
        if np.isfinite(r_limit):  # truncated: redraw the particles beyond the edge
            far = radius > r_limit
            while far.any():
                radius[far] = rng.gamma(2.0, r_scale, int(far.sum()))
                far = radius > r_limit
        return radius, rng.uniform(0.0, 2.0 * np.pi, n)


class Ring(SurfaceDensity):
    """A Gaussian ring, ``exp(-(R - radius)^2 / 2 width^2) + disc exp(-R / r_scale)``.

    Parameters
    ----------
    radius : `~astropy.units.Quantity`, optional
        Radius of the ring's crest; default ``2 r_scale``.
    width : `~astropy.units.Quantity`, optional
        Gaussian sigma of the ring; default ``0.4 r_scale``.
    disc : float, optional
        Central surface density of an exponential disc beneath it, relative to
        the ring's crest (0: a bare ring, as in many CO rings).
    """

    name = "ring"

    def __init__(self, radius=None, width=None, *, disc=0.0):
        self.radius = _length(radius, "radius")
        self.width = _length(width, "width")
        self.disc = _fraction(disc, "disc", 0.0, 10.0)

    def radial(self, radius, r_scale):
        r = np.asarray(radius, dtype=float)
        r0 = 2.0 * r_scale if self.radius is None else self.radius
        w = 0.4 * r_scale if self.width is None else self.width
        return np.exp(-0.5 * ((r - r0) / w) ** 2) + self.disc * np.exp(-r / r_scale)


class Hole(SurfaceDensity):
    """An exponential disc with a central hole, ``exp(-R / r_scale) [1 - exp(-(R / radius)^4)]``.

    Parameters
    ----------
    radius : `~astropy.units.Quantity`, optional
        Radius of the hole (the density is 63% of the disc's there, 6% at half
        of it); default ``r_scale``.
    """

    name = "hole"

    def __init__(self, radius=None):
        self.radius = _length(radius, "radius")

    def radial(self, radius, r_scale):
        r = np.asarray(radius, dtype=float)
        hole = r_scale if self.radius is None else self.radius
        return np.exp(-r / r_scale) * -np.expm1(-((r / hole) ** 4))


class Tabulated(SurfaceDensity):
    """Any axisymmetric ``Sigma(R)``: a callable taking radii (arcsec Quantity), returning numbers.

    Parameters
    ----------
    function : callable
        ``function(R)`` with ``R`` an arcsec `~astropy.units.Quantity` array; returns
        a non-negative array of its shape (any normalisation).
    """

    def __init__(self, function):
        if not callable(function):
            raise GalkinError(f"function must be callable; got {type(function).__name__}.")
        self.function = function

    def radial(self, radius, r_scale):
        r = np.asarray(radius, dtype=float)
        try:
            out = self.function(r * u.arcsec)
        except Exception as exc:
            raise GalkinError(
                f"The surface-density callable failed on radii in arcsec ({exc!r}); it must "
                "take an angular Quantity array and return numbers of the same shape."
            ) from exc
        # Any unit will do (e.g. Msun / pc2): only the shape of the profile matters.
        out = np.asarray(out.value if isinstance(out, u.Quantity) else out, dtype=float)
        if out.shape != r.shape or not np.all(np.isfinite(out)) or np.any(out < 0):
            raise GalkinError(
                "The surface-density callable must return finite, non-negative values of "
                f"the shape of its input {r.shape}; got shape {out.shape}."
            )
        return out


class Spiral(SurfaceDensity):
    """Logarithmic spiral arms on another surface density.

    ``Sigma(R, phi) = Sigma_base(R) [1 + amplitude cos(arms (phi - ln(R / r_scale) /
    tan(pitch) - phase))]``: the azimuthal average, and so the radial profile,
    stays the base's.

    Parameters
    ----------
    base : SurfaceDensity or str, optional
        Default ``"exponential"``.
    arms : int, optional
    pitch : `~astropy.units.Quantity`, optional
        Pitch angle of the arms (5-60 deg).
    amplitude : float, optional
        Arm-interarm contrast, 0-1 (1: no gas between the arms).
    phase : `~astropy.units.Quantity`, optional
    """

    name = "spiral"

    def __init__(
        self, base="exponential", *, arms=2, pitch=20 * u.deg, amplitude=0.6, phase=0 * u.deg
    ):
        self.base = as_surface_density(base)
        if isinstance(arms, bool) or not isinstance(arms, (int, np.integer)) or arms < 1:
            raise GalkinError(f"arms must be an integer >= 1; got {arms!r}.")
        self.arms = int(arms)
        self.pitch = as_value(pitch, "pitch", u.deg, scalar=True)
        if not 5.0 <= self.pitch <= 60.0:
            raise GalkinError(f"pitch must lie in [5, 60] deg; got {pitch}.")
        self.amplitude = _fraction(amplitude, "amplitude")
        self.phase = as_value(phase, "phase", u.deg, scalar=True)

    def radial(self, radius, r_scale):
        return self.base.radial(radius, r_scale)

    def azimuthal(self, radius, phi, r_scale):
        """The factor ``1 + amplitude cos(...)`` at ``(radius, phi)``."""
        wind = np.log(np.maximum(radius, 1e-6 * r_scale) / r_scale) / np.tan(np.radians(self.pitch))
        return 1.0 + self.amplitude * np.cos(self.arms * (phi - wind - np.radians(self.phase)))

    def sample(self, rng, n, r_scale, r_limit):
        radius, phi = self.base.sample(rng, n, r_scale, r_limit)
        # Redraw each particle's azimuth until accepted: the radii (and so the radial
        # profile) are the base's, the azimuths follow the arms.
        todo = np.ones(n, dtype=bool)
        while todo.any():
            trial = rng.uniform(0.0, 2.0 * np.pi, int(todo.sum()))
            accept = rng.uniform(0.0, 1.0 + self.amplitude, trial.size)
            ok = accept <= self.azimuthal(radius[todo], trial, r_scale)
            idx = np.flatnonzero(todo)
            phi[idx[ok]] = trial[ok]
            todo[idx[ok]] = False
        return radius, phi


class Clumpy(SurfaceDensity):
    """Part of another surface density's gas gathered into Gaussian clumps.

    The clumps' centres are drawn from the base, so the expected radial profile
    is the base's (blurred by the clump size), which :meth:`radial` returns.

    Parameters
    ----------
    base : SurfaceDensity or str, optional
        Default ``"exponential"``.
    clumps : int, optional
        Number of clumps.
    fraction : float, optional
        Fraction of the gas in clumps, 0-1.
    size : `~astropy.units.Quantity`, optional
        Gaussian sigma of a clump; default ``0.2 r_scale``.
    """

    name = "clumpy"

    def __init__(self, base="exponential", *, clumps=20, fraction=0.3, size=None):
        self.base = as_surface_density(base)
        if isinstance(clumps, bool) or not isinstance(clumps, (int, np.integer)) or clumps < 1:
            raise GalkinError(f"clumps must be an integer >= 1; got {clumps!r}.")
        self.clumps = int(clumps)
        self.fraction = _fraction(fraction, "fraction")
        self.size = _length(size, "size")

    def radial(self, radius, r_scale):
        return self.base.radial(radius, r_scale)

    def sample(self, rng, n, r_scale, r_limit):
        radius, phi = self.base.sample(rng, n, r_scale, r_limit)
        n_clumped = int(round(self.fraction * n))
        if n_clumped == 0:
            return radius, phi
        r_c, phi_c = self.base.sample(rng, self.clumps, r_scale, r_limit)
        which = rng.integers(0, self.clumps, n_clumped)
        size = 0.2 * r_scale if self.size is None else self.size
        x = r_c[which] * np.cos(phi_c[which]) + rng.normal(0.0, size, n_clumped)
        y = r_c[which] * np.sin(phi_c[which]) + rng.normal(0.0, size, n_clumped)
        r_new = np.hypot(x, y)
        inside = r_new <= r_limit  # clump gas past the disc's edge stays in the smooth disc
        pick = rng.choice(n, n_clumped, replace=False)[inside]
        radius[pick], phi[pick] = r_new[inside], np.arctan2(y, x)[inside]
        return radius, phi


#: Names accepted by ``simulate_cube(surface_density=...)`` and what they build.
SURFACE_DENSITIES = {
    "exponential": Exponential,
    "ring": Ring,
    "hole": Hole,
    "spiral": Spiral,
    "clumpy": Clumpy,
}


def as_surface_density(value):
    """A :class:`SurfaceDensity` from an instance, a name (:data:`SURFACE_DENSITIES`) or a callable.

    Examples
    --------
    >>> as_surface_density("ring")
    Ring(radius=None, width=None, disc=0.0)
    """
    if isinstance(value, SurfaceDensity):
        return value
    if isinstance(value, str):
        if value not in SURFACE_DENSITIES:
            raise GalkinError(
                f"surface_density {value!r} is not known; choose one of "
                f"{sorted(SURFACE_DENSITIES)}, a galkin.simulation.surface_density instance, "
                "or a callable Sigma(R) of an arcsec Quantity."
            )
        return SURFACE_DENSITIES[value]()
    if callable(value):
        return Tabulated(value)
    raise GalkinError(
        f"surface_density must be a name ({sorted(SURFACE_DENSITIES)}), a SurfaceDensity or a "
        f"callable Sigma(R); got {type(value).__name__}."
    )
