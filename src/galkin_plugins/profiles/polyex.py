"""Polyex rotation curve of Giovanelli & Haynes (2002)."""

import torch

from galkin.profiles import Parameter, VelocityProfile

__all__ = ["PolyexProfile"]


class PolyexProfile(VelocityProfile):
    r"""Polyex rotation curve (Giovanelli & Haynes 2002, ApJ 571, L107).

    .. math::

        V(R) = v_0 \left(1 - e^{-R / r_\mathrm{pe}}\right)
        \left(1 + \frac{\alpha R}{r_\mathrm{pe}}\right)

    An exponential rise over the scale :math:`r_\mathrm{pe}` times a linear
    outer part of slope :math:`\alpha v_0 / r_\mathrm{pe}`: rising
    (:math:`\alpha > 0`) or declining (:math:`\alpha < 0`, reaching zero at
    :math:`R = r_\mathrm{pe} / |\alpha|`).  Near the centre
    :math:`V \simeq v_0 R / r_\mathrm{pe}`.

    The template fits of Catinella, Giovanelli & Haynes (2006) have
    :math:`\alpha` of 0.002-0.1 and :math:`r_\mathrm{pe}` of 0.13-0.4 optical
    radii.  The bounds keep the outer rise below about ten times :math:`v_0`
    out to three fields of view (the in-plane radius of the map's edge for a
    disc inclined by ~80 deg).

    Examples
    --------
    >>> import torch
    >>> profile = PolyexProfile()
    >>> radius = torch.tensor([0.0, 0.1, 1.0])
    >>> params = dict(r_pe=torch.tensor(0.1), alpha=torch.tensor(0.0))
    >>> profile.evaluate(radius, v_0=torch.tensor(2.0), **params)
    tensor([0.0000, 1.2642, 1.9999])
    """

    name = "polyex"
    parameters = (
        Parameter("v_0", "velocity", (0.3, 6.0), "amplitude v_0 sin i of the rotation curve"),
        Parameter("r_pe", "length", (0.03, 1.0), "exponential scale of the inner rise"),
        Parameter("alpha", "dimensionless", (-0.03, 0.08), "outer slope, in v_0 per r_pe"),
    )

    def evaluate(self, radius, *, v_0, r_pe, alpha):
        """Evaluate the rotation speed.

        Parameters
        ----------
        radius : `torch.Tensor`
            In-plane radius in units of the field of view.
        v_0 : `torch.Tensor`
            Amplitude (projected, in velocity-scale units).
        r_pe : `torch.Tensor`
            Scale of the inner rise in units of the field of view.
        alpha : `torch.Tensor`
            Outer slope.

        Returns
        -------
        `torch.Tensor`
            Rotation speed, in the units of ``v_0``.
        """
        scaled = radius / r_pe
        return v_0 * -torch.expm1(-scaled) * (1.0 + alpha * scaled)
