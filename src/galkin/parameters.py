"""The parameter space of a fit: bounded network outputs <-> decoder <-> physics.

The encoders output values in [-1, 1]. :class:`ParameterSpace` maps them
linearly onto each parameter's bounds (decoder units), and converts decoder units
into physical Quantities with the galaxy's :class:`~galkin.preprocess.Scales`:

* inclination and the position-angle offset are angles (radians inside);
* lengths are fractions of the field -> arcsec;
* the velocity amplitude is ``V sin i`` in velocity-scale units -> km/s of ``V``.
"""

import numpy as np
from astropy import units as u

from .units import KM_S

__all__ = ["ParameterSpace", "INCLINATION_BOUNDS", "PA_OFFSET_BOUNDS"]

#: Inclination range the encoders can output (radians).
INCLINATION_BOUNDS = (np.radians(5.0), np.radians(90.0))
#: Range of the position-angle correction the model learns on top of the de-rotation.
PA_OFFSET_BOUNDS = (np.radians(-15.0), np.radians(15.0))


class ParameterSpace:
    """Names, bounds and unit conversions for one intensity/velocity profile pair.

    Parameters
    ----------
    intensity, velocity : DecoderProfile
        Profile instances (or classes).

    Attributes
    ----------
    moment0_names : tuple of str
        Outputs of the moment-0 encoder: ``inclination`` then the intensity parameters.
    moment1_names : tuple of str
        Outputs of the moment-1 encoder: the velocity parameters then ``pa_offset``.
    amplitude : str or None
        The velocity profile's amplitude (moment 1 is linear in it), or None when
        its speeds are several (one per ring).
    physical_lower : frozenset of str
        Parameters whose lower bound is a physical limit (see
        `~galkin.profiles.Parameter`): ending there is not flagged.
    """

    def __init__(self, intensity, velocity):
        self.intensity = intensity
        self.velocity = velocity
        clash = set(intensity.parameter_names()) & set(velocity.parameter_names())
        if clash:
            raise ValueError(
                f"Profiles {intensity.name!r} and {velocity.name!r} share parameter names {clash}."
            )
        self.moment0_names = ("inclination",) + intensity.parameter_names()
        self.moment1_names = velocity.parameter_names() + ("pa_offset",)
        self.bounds = {"inclination": INCLINATION_BOUNDS, "pa_offset": PA_OFFSET_BOUNDS}
        self.bounds.update(intensity.bounds())
        self.bounds.update(velocity.bounds())
        self.kinds = {p.name: p.kind for p in intensity.parameters + velocity.parameters}
        self.kinds.update(inclination="angle", pa_offset="angle")
        self.amplitude = velocity.amplitude()
        self.physical_lower = frozenset(
            p.name for p in intensity.parameters + velocity.parameters if p.lower_is_physical
        )

    @property
    def names(self):
        """Every parameter, moment-0 encoder outputs first."""
        return self.moment0_names + self.moment1_names

    def regularization(self, params):
        """Both profiles' extra residuals (`~galkin.profiles.DecoderProfile.regularization`).

        Parameters
        ----------
        params : dict of str to `torch.Tensor`
            ``(B,)`` per parameter, decoder units.

        Returns
        -------
        `torch.Tensor` or None
            ``(B, M)``, or None when neither profile regularises.
        """
        import torch

        parts = []
        for profile in (self.intensity, self.velocity):
            own = {n: params[n] for n in profile.parameter_names()}
            extra = profile.regularization(**own)
            if extra is not None:
                parts.append(extra)
        return torch.cat(parts, -1) if parts else None

    def from_unit(self, names, z):
        """Map ``z[..., k]`` in [-1, 1] onto the bounds of ``names[k]``; returns a dict."""
        out = {}
        for k, name in enumerate(names):
            lo, hi = self.bounds[name]
            out[name] = lo + (z[..., k] + 1.0) * (0.5 * (hi - lo))
        return out

    def to_unit(self, name, value):
        """Inverse of :meth:`from_unit` for one parameter (numpy or torch)."""
        lo, hi = self.bounds[name]
        return 2.0 * (value - lo) / (hi - lo) - 1.0

    def to_physical(self, samples, scales):
        """Convert decoder-unit samples into physical Quantities.

        Parameters
        ----------
        samples : dict of str to `numpy.ndarray`
            Same-shaped arrays (e.g. MC samples) per parameter, decoder units.
        scales : `~galkin.preprocess.Scales`

        Returns
        -------
        dict of str to `~astropy.units.Quantity`
            ``inclination`` (deg), ``position_angle`` (deg, east of north to the
            receding side), each profile parameter (arcsec, km/s or dimensionless).
        """
        inc = np.asarray(samples["inclination"], dtype=float)
        out = {"inclination": np.degrees(inc) * u.deg}
        sin_i = np.clip(np.sin(inc), 1e-3, None)
        for name, kind in self.kinds.items():
            if name in ("inclination", "pa_offset"):
                continue
            value = np.asarray(samples[name], dtype=float)
            if kind == "length":
                out[name] = value * scales.field * u.arcsec
            elif kind == "velocity":
                out[name] = value * scales.velocity / sin_i * KM_S
            else:
                out[name] = value * u.dimensionless_unscaled
        pa = scales.position_angle + np.degrees(np.asarray(samples["pa_offset"], dtype=float))
        out["position_angle"] = np.mod(pa, 360.0) * u.deg
        return out
