r"""Ring profiles: the rotation speed and the surface density at every ring.

What a tilted-ring code (3D-Barolo, FAT/TiRiFiC) fits: one free value per
ring, so curves that rise, peak and decline, and gas in rings and holes, are
described as they are instead of by an arctan and an exponential. Both
profiles are registered as ``"rings"`` (one of each kind) and used as
``galkin.fit(cube, velocity="rings", intensity="rings")``.

Rings
-----
The ring radii come from the data (:func:`galkin.ring_layout.ring_radii`):
every half beam from the centre out to the radius the emission reaches along
the major axis, at most 30 rings by default. An instance made with options
(``spacing=``, ``n_rings=``, ``radii=``) keeps them, and
``RingsVelocityProfile.configure`` lays the rings out for one galaxy.
An unconfigured instance has eight rings at 0.05-0.4 of the field.

Between rings
-------------
The rotation speed is a cubic Hermite curve through ``(0, 0)`` and every
ring's speed, its tangents those of the parabola through each ring and its
neighbours (smooth, local, and linear in the speeds); beyond the last ring it
stays at the last ring's speed. The surface density is interpolated linearly
(it stays non-negative between non-negative rings, so holes and rings are
allowed), falls to zero over one ring spacing beyond the last ring, and is
divided by its largest ring value (the fit solves the flux scale itself).

Smoothness
----------
A ring that the data cannot pin (inside the beam, in a hole) would otherwise
wander; each profile adds to the fit the second differences of its ring
values, each divided by a tolerance (the profile's ``smoothness``):
``V_{k-1} - 2 V_k + V_{k+1}`` (on even rings) may be of order the tolerance
before it costs as much as one standard deviation of a measurement. The
tolerance, 0.05 of the map's velocity scale (about ``V_max sin i``) at the
default spacing of half a beam, is far larger than the error of a ring the data
pin (about 0.01 at S/N 20), so the regulariser does not move a well-sampled
curve (``tests/test_rings.py`` checks a declining one), while it holds rings
without data to the straight line through their neighbours.
"""

import numpy as np
import torch

from galkin.exceptions import GalkinError
from galkin.profiles import IntensityProfile, Parameter, VelocityProfile

from ._ring_basis import (
    hermite_basis,
    hermite_values,
    linear_basis,
    linear_values,
    second_derivative_matrix,
    tangent_matrix,
)

__all__ = [
    "RingsVelocityProfile",
    "RingsIntensityProfile",
    "DEFAULT_KNOTS",
    "VELOCITY_SMOOTHNESS",
    "INTENSITY_SMOOTHNESS",
    "SCALE_PIN",
]

#: Ring radii (field units) of an unconfigured instance.
DEFAULT_KNOTS = tuple(0.05 * k for k in range(1, 9))
#: Tolerance of the second differences of ring speeds (velocity-scale units).
VELOCITY_SMOOTHNESS = 0.05
#: Tolerance of the second differences of ring surface densities (peak = 1).
INTENSITY_SMOOTHNESS = 0.5
#: The surface densities' overall scale is free (the fit solves the flux
#: scale), so one residual holds the largest ring value at 1 within this.
SCALE_PIN = 0.01
#: Bounds of a ring speed (``V sin i`` in velocity-scale units).
SPEED_BOUNDS = (0.0, 4.0)
#: Bounds of a ring surface density (relative; the lower one is a hole).
DENSITY_BOUNDS = (1e-3, 10.0)


class _Rings:
    """Ring layout shared by both ring profiles (options, configuration, equality)."""

    def __init__(self, *, spacing=None, n_rings=None, radii=None, smoothness=None, knots=None):
        from astropy import units as u

        from galkin.units import as_value

        if sum(x is not None for x in (spacing, n_rings, radii)) > 1:
            raise GalkinError(
                f"{self.name!r} profile: pass at most one of spacing=, n_rings=, radii=."
            )
        self.spacing = as_value(spacing, "spacing", u.arcsec, scalar=True, allow_none=True)
        self.n_rings = None if n_rings is None else int(n_rings)
        self.radii = None
        if radii is not None:
            self.radii = tuple(np.atleast_1d(as_value(radii, "radii", u.arcsec)).tolist())
        default = VELOCITY_SMOOTHNESS if self.kind == "velocity" else INTENSITY_SMOOTHNESS
        self.smoothness = float(default if smoothness is None else smoothness)
        if not self.smoothness > 0:
            raise GalkinError(f"smoothness must be positive; got {smoothness!r}.")
        knots = DEFAULT_KNOTS if knots is None else knots
        self.knots = tuple(float(k) for k in knots)
        if len(self.knots) < 2 or min(self.knots) <= 0 or np.any(np.diff(self.knots) <= 0):
            raise GalkinError(f"ring radii must be positive and increasing; got {knots!r}.")
        self.parameters = self._parameters()

    def configure(self, prepared):
        """This profile with rings laid out for one galaxy (`~galkin.ring_layout.ring_radii`)."""
        from astropy import units as u

        from galkin.ring_layout import ring_radii

        radii = None if self.radii is None else self.radii * u.arcsec
        spacing = None if self.spacing is None else self.spacing * u.arcsec
        knots = ring_radii(prepared, spacing=spacing, n_rings=self.n_rings, radii=radii)
        return type(self)(
            spacing=spacing,
            n_rings=self.n_rings,
            radii=radii,
            smoothness=self.smoothness,
            knots=knots,
        )

    def ring_radii(self, *, center=False):
        """The rings' radii (field units); with ``center``, R = 0 first."""
        return np.array(((0.0,) if center else ()) + self.knots)

    def _tensor(self, values, like):
        return torch.as_tensor(np.asarray(values), dtype=like.dtype, device=like.device)

    def _stack(self, params):
        values = [params[n] for n in self.parameter_names()]
        return torch.stack(torch.broadcast_tensors(*values), -1)

    def _regularize(self, params, first):
        matrix = second_derivative_matrix(self.ring_radii(center=True))[:, first:]
        values = self._stack(params)
        return values @ self._tensor(matrix, values).T / self.smoothness

    def __repr__(self):
        return f"<{type(self).__name__} {self.name!r} ({len(self.knots)} rings)>"


class RingsVelocityProfile(_Rings, VelocityProfile):
    """Rotation speed at every ring, a smooth curve between them (``velocity="rings"``).

    Parameters
    ----------
    spacing : `~astropy.units.Quantity`, optional
        Angle between rings (default half the beam's FWHM).
    n_rings : int, optional
        Number of rings out to the data's extent, instead of ``spacing``.
    radii : `~astropy.units.Quantity`, optional
        Explicit ring radii (angles).
    smoothness : float, optional
        Tolerance of the second differences of the ring speeds, in units of the
        map's velocity scale (default `~galkin_plugins.profiles.rings.VELOCITY_SMOOTHNESS`).
    knots : sequence of float, optional
        Ring radii in field units, as ``configure`` sets them.

    Examples
    --------
    >>> import torch
    >>> profile = RingsVelocityProfile(knots=(0.1, 0.2, 0.3))
    >>> profile.parameter_names()
    ('v_01', 'v_02', 'v_03')
    >>> speeds = dict(v_01=torch.tensor(1.0), v_02=torch.tensor(2.0), v_03=torch.tensor(2.0))
    >>> profile.evaluate(torch.tensor([0.0, 0.1, 0.3, 1.0]), **speeds)
    tensor([0., 1., 2., 2.])
    """

    name = "rings"
    proxy = "arctan"
    tabulated = True

    def _parameters(self):
        return tuple(
            Parameter(
                f"v_{k:02d}",
                "velocity",
                SPEED_BOUNDS,
                f"rotation speed V sin i at ring {k} (R = {r:.4g} field)",
            )
            for k, r in enumerate(self.knots, start=1)
        )

    def _basis(self, radius):
        knots = self.ring_radii(center=True)
        basis = hermite_basis(
            radius, self._tensor(knots, radius), self._tensor(tangent_matrix(knots), radius)
        )
        return basis[..., 1:]  # V(0) = 0: the centre's value is not a parameter

    def evaluate(self, radius, **params):
        """Rotation speed at ``radius`` (field units) from the ring speeds ``v_01``, ...

        Returns
        -------
        `torch.Tensor`
            In the units of the ring speeds.
        """
        values = self._stack(params)
        centre = torch.zeros_like(values[..., :1])  # V(0) = 0
        knots = self.ring_radii(center=True)
        return hermite_values(
            radius,
            self._tensor(knots, radius),
            self._tensor(tangent_matrix(knots), radius),
            torch.cat([centre, values], -1),
        )

    def jacobian(self, radius, **params):
        """Derivatives with respect to each ring speed: the basis functions."""
        basis = self._basis(radius)
        shape = torch.broadcast_shapes(radius.shape, *(v.shape for v in params.values()))
        return basis.expand(*shape, basis.shape[-1])

    def regularization(self, **params):
        """Second differences of the ring speeds (with V(0) = 0) over ``smoothness``."""
        return self._regularize(params, first=1)

    def from_proxy(self, proxy, values):
        """Ring speeds of a fitted parametric curve (e.g. the arctan) at the ring radii."""
        radius = torch.tensor(self.knots, dtype=torch.float64)[None, :]
        params = {
            k: torch.as_tensor(np.atleast_1d(v), dtype=torch.float64)[:, None]
            for k, v in values.items()
            if k in proxy.parameter_names()
        }
        with torch.no_grad():
            speed = proxy.evaluate(radius, **params).numpy()
        lo, hi = SPEED_BOUNDS
        speed = np.clip(speed, lo + 1e-3 * (hi - lo), hi - 1e-3 * (hi - lo))
        return {n: speed[:, k] for k, n in enumerate(self.parameter_names())}


class RingsIntensityProfile(_Rings, IntensityProfile):
    """Surface density at the centre and every ring, linear between (``intensity="rings"``).

    Takes the same options as `~galkin_plugins.profiles.RingsVelocityProfile`
    (``smoothness`` defaults to `~galkin_plugins.profiles.rings.INTENSITY_SMOOTHNESS`,
    relative to the peak).

    Examples
    --------
    >>> import torch
    >>> profile = RingsIntensityProfile(knots=(0.1, 0.2))
    >>> profile.parameter_names()
    ('sd_00', 'sd_01', 'sd_02')
    >>> rings = dict(sd_00=torch.tensor(0.0), sd_01=torch.tensor(2.0), sd_02=torch.tensor(1.0))
    >>> profile.evaluate(torch.tensor([0.0, 0.05, 0.1, 0.2, 0.25, 0.4]), **rings)
    tensor([0.0000, 0.5000, 1.0000, 0.5000, 0.2500, 0.0000])
    """

    name = "rings"
    proxy = "exponential"
    tabulated = True

    def _parameters(self):
        return tuple(
            Parameter(
                f"sd_{k:02d}",
                "dimensionless",
                DENSITY_BOUNDS,
                f"surface density at ring {k} (R = {r:.4g} field), relative",
                lower_is_physical=True,
            )
            for k, r in enumerate((0.0,) + self.knots)
        )

    def _basis(self, radius):
        knots = self.ring_radii(center=True)
        taper = knots[-1] - knots[-2]
        return linear_basis(radius, self._tensor(knots, radius), taper)

    def evaluate(self, radius, **params):
        """Surface density at ``radius`` (field units), 1 at the largest ring value."""
        values = self._stack(params)
        knots = self.ring_radii(center=True)
        taper = knots[-1] - knots[-2]
        profile = linear_values(radius, self._tensor(knots, radius), taper, values)
        return profile / values.amax(-1)

    def jacobian(self, radius, **params):
        """Derivatives with respect to each ring value (of the normalised profile)."""
        values = self._stack(params)
        peak = values.amax(-1)
        basis = self._basis(radius)
        profile = (basis * values).sum(-1)
        top = (values == peak[..., None]).to(values.dtype)  # ties share, as amax's gradient
        top = top / top.sum(-1, keepdim=True)
        return basis / peak[..., None] - top * (profile / peak**2)[..., None]

    def regularization(self, **params):
        """Second differences over ``smoothness``, and the largest value held at 1."""
        values = self._stack(params)
        pin = (values.amax(-1, keepdim=True) - 1.0) / SCALE_PIN
        return torch.cat([self._regularize(params, first=0), pin], -1)

    def from_proxy(self, proxy, values):
        """Ring values of a fitted parametric profile (e.g. the exponential), peak 1."""
        radius = torch.tensor((0.0,) + self.knots, dtype=torch.float64)[None, :]
        params = {
            k: torch.as_tensor(np.atleast_1d(v), dtype=torch.float64)[:, None]
            for k, v in values.items()
            if k in proxy.parameter_names()
        }
        with torch.no_grad():
            density = proxy.evaluate(radius, **params).numpy()
        density = density / density.max(1, keepdims=True)
        density = np.clip(density, 2 * DENSITY_BOUNDS[0], None)
        return {n: density[:, k] for k, n in enumerate(self.parameter_names())}


# the class-level parameters are those of an unconfigured instance (eight rings)
RingsVelocityProfile.parameters = RingsVelocityProfile().parameters
RingsIntensityProfile.parameters = RingsIntensityProfile().parameters
