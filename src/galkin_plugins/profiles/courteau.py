"""Courteau (1997) multi-parameter rotation curve."""

import torch
from torch.nn.functional import softplus

from galkin.profiles import Parameter, VelocityProfile

__all__ = ["CourteauProfile"]


class CourteauProfile(VelocityProfile):
    r"""Multi-parameter rotation curve of Courteau (1997, AJ 114, 2402, Eq. 6).

    .. math::

        V(R) = v_c \frac{(1 + x)^\beta}{(1 + x^\gamma)^{1/\gamma}},
        \qquad x = \frac{r_t}{R}

    (Courteau's additive systemic velocity :math:`v_0` is left out: the maps
    are centred on the systemic velocity).  Near the centre
    :math:`V \simeq v_c (R / r_t)^{1 - \beta} \to 0`; far out
    :math:`V \simeq v_c (1 + \beta r_t / R) \to v_c`, approached from above
    for :math:`\beta > 0` (a declining outer curve) and from below for
    :math:`\beta < 0` (still rising).  :math:`\gamma` sets the sharpness of the
    turnover; ``beta = 0, gamma = 1`` gives :math:`v_c R / (R + r_t)`.

    Both factors are computed in log space,
    :math:`\log(1 + x) = \mathrm{softplus}(\log x)`, so :math:`x^\gamma` never
    overflows near R = 0; V(0) is set to exactly 0.

    Examples
    --------
    >>> import torch
    >>> profile = CourteauProfile()
    >>> radius = torch.tensor([0.0, 0.1, 1e6])
    >>> params = dict(r_t=torch.tensor(0.1), beta=torch.tensor(0.0), gamma=torch.tensor(1.0))
    >>> profile.evaluate(radius, v_c=torch.tensor(2.0), **params)
    tensor([0.0000, 1.0000, 2.0000])
    """

    name = "courteau"
    parameters = (
        Parameter("v_c", "velocity", (0.3, 6.0), "asymptotic rotation speed v_c sin i"),
        Parameter("r_t", "length", (0.005, 1.0), "transition radius of the turnover"),
        Parameter("beta", "dimensionless", (-0.5, 0.5), "outer slope (> 0: declining outer curve)"),
        Parameter("gamma", "dimensionless", (0.5, 10.0), "sharpness of the turnover"),
    )

    def evaluate(self, radius, *, v_c, r_t, beta, gamma):
        """Evaluate the rotation speed.

        Parameters
        ----------
        radius : `torch.Tensor`
            In-plane radius in units of the field of view.
        v_c : `torch.Tensor`
            Asymptotic speed (projected, in velocity-scale units).
        r_t : `torch.Tensor`
            Transition radius in units of the field of view.
        beta, gamma : `torch.Tensor`
            Outer slope and sharpness of the turnover.

        Returns
        -------
        `torch.Tensor`
            Rotation speed, in the units of ``v_c``.
        """
        log_radius = torch.log(torch.clamp_min(radius, torch.finfo(radius.dtype).tiny))
        log_x = torch.log(r_t) - log_radius
        log_shape = beta * softplus(log_x) - softplus(gamma * log_x) / gamma
        return torch.where(radius > 0, v_c * torch.exp(log_shape), 0.0)
