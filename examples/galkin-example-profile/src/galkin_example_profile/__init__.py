"""An example galkin plugin: the tanh rotation curve.

Install the package and galkin finds the profile through the ``galkin``
entry point declared in ``pyproject.toml``::

    >>> import galkin
    >>> galkin.get_profile("tanh")  # doctest: +SKIP
    <class 'galkin_example_profile.TanhProfile'>
"""

import galkin
import torch
from galkin.profiles import Parameter, VelocityProfile

__all__ = ["TanhProfile", "galkin_register_profiles"]


class TanhProfile(VelocityProfile):
    r"""Hyperbolic-tangent rotation curve.

    .. math::

        V(R) = v_\mathrm{flat} \tanh(R / r_t)

    Rises linearly inside :math:`r_t` and flattens to :math:`v_\mathrm{flat}`.
    Radii are in units of the field of view and the amplitude in the decoder's
    projected velocity-scale units (see `galkin.profiles`).
    """

    name = "tanh"
    parameters = (
        Parameter("v_flat", "velocity", (0.3, 6.0), "flat rotation speed v_flat sin i"),
        Parameter("r_t", "length", (0.005, 1.0), "radius of the turnover"),
    )

    def evaluate(self, radius, *, v_flat, r_t):
        """Evaluate the rotation speed.

        Parameters
        ----------
        radius : `torch.Tensor`
            In-plane radius in units of the field of view.
        v_flat : `torch.Tensor`
            Flat rotation speed.
        r_t : `torch.Tensor`
            Turnover radius in units of the field of view.

        Returns
        -------
        `torch.Tensor`
            Rotation speed, in the units of ``v_flat``.
        """
        return v_flat * torch.tanh(radius / r_t)


@galkin.hookimpl
def galkin_register_profiles():
    """Register the profiles of this package with galkin."""
    return [TanhProfile]
