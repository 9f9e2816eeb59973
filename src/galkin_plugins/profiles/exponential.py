"""Exponential disc: the default intensity profile of the thesis (Eq. 3.3)."""

import torch

from galkin.profiles import IntensityProfile, Parameter

__all__ = ["ExponentialProfile"]


class ExponentialProfile(IntensityProfile):
    r"""Exponential disc, the in-plane part of thesis Eq. 3.3.

    .. math::

        \Sigma(R) = \exp(-R / r_\mathrm{scale})

    The thesis multiplies this by :math:`I_0 \exp(-|z| / r_z)` with
    :math:`I_0 = 1` and a one-spaxel scale height; the decoder handles the
    vertical structure and the flux scale, so only the face-on radial part
    lives here.  It is normalised to 1 at the centre (Freeman 1970).

    Examples
    --------
    >>> import torch
    >>> profile = ExponentialProfile()
    >>> profile.evaluate(torch.tensor([0.0, 0.2]), r_scale=torch.tensor(0.2))
    tensor([1.0000, 0.3679])
    """

    name = "exponential"
    parameters = (
        Parameter(
            "r_scale",
            "length",
            (0.05, 0.5),
            "exponential scale length of the surface brightness",
        ),
    )

    def evaluate(self, radius, *, r_scale):
        """Evaluate the surface brightness.

        Parameters
        ----------
        radius : `torch.Tensor`
            In-plane radius in units of the field of view.
        r_scale : `torch.Tensor`
            Scale length in units of the field of view.

        Returns
        -------
        `torch.Tensor`
            Surface brightness, 1 at the centre.
        """
        return torch.exp(-radius / r_scale)
