"""Arctangent rotation curve: the default velocity profile of the thesis (Eq. 3.4)."""

import math

import torch

from galkin.profiles import Parameter, VelocityProfile

__all__ = ["ArctanProfile"]


class ArctanProfile(VelocityProfile):
    r"""Arctangent rotation curve (Courteau 1997; thesis Eq. 3.4).

    .. math::

        V(R) = \frac{2 V_\mathrm{max}}{\pi} \arctan\left(\frac{R}{r_\mathrm{turn}}\right)

    Rises linearly inside the turnover radius :math:`r_\mathrm{turn}`, where it
    reaches :math:`V_\mathrm{max} / 2`, and flattens to :math:`V_\mathrm{max}`.

    Examples
    --------
    >>> import torch
    >>> profile = ArctanProfile()
    >>> radius = torch.tensor([0.0, 0.1, 1e6])
    >>> profile.evaluate(radius, v_max=torch.tensor(2.0), r_turn=torch.tensor(0.1))
    tensor([0.0000, 1.0000, 2.0000])
    """

    name = "arctan"
    parameters = (
        Parameter("v_max", "velocity", (0.3, 6.0), "asymptotic rotation speed V_max sin i"),
        Parameter("r_turn", "length", (0.005, 1.0), "turnover radius, where V = V_max / 2"),
    )

    def evaluate(self, radius, *, v_max, r_turn):
        """Evaluate the rotation speed.

        Parameters
        ----------
        radius : `torch.Tensor`
            In-plane radius in units of the field of view.
        v_max : `torch.Tensor`
            Asymptotic speed (projected, in velocity-scale units).
        r_turn : `torch.Tensor`
            Turnover radius in units of the field of view.

        Returns
        -------
        `torch.Tensor`
            Rotation speed, in the units of ``v_max``.
        """
        return (2.0 / math.pi) * v_max * torch.atan(radius / r_turn)
