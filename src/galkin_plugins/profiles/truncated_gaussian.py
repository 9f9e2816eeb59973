"""Gaussian disc with a smooth outer truncation (thesis future work)."""

import torch

from galkin.profiles import IntensityProfile, Parameter

__all__ = ["TruncatedGaussianProfile", "logistic_edge"]


def logistic_edge(radius, r_trunc, width):
    """A smooth step from 1 at the centre to 0 beyond ``r_trunc`` (edge ``width``):
    ``s((r_trunc - R) / width) / s(r_trunc / width)``, ``s`` the logistic function."""
    return torch.sigmoid((r_trunc - radius) / width) / torch.sigmoid(r_trunc / width)


class TruncatedGaussianProfile(IntensityProfile):
    r"""Gaussian surface brightness smoothly truncated at an outer radius.

    .. math::

        \Sigma(R) = \exp\left(-\frac{R^2}{2\sigma^2}\right)
        \frac{s\left((r_\mathrm{trunc} - R) / w\right)}{s(r_\mathrm{trunc} / w)},
        \qquad s(t) = \frac{1}{1 + e^{-t}}

    The logistic edge of fixed width :math:`w` (:attr:`edge_width`, 0.01 of
    the field) keeps the truncation differentiable with respect to
    :math:`r_\mathrm{trunc}`; dividing by its value at the centre makes
    :math:`\Sigma(0) = 1`.  The thesis lists a truncated Gaussian among the
    intensity profiles to add beyond the exponential disc (future work), for
    discs whose gas ends abruptly.

    Examples
    --------
    >>> import torch
    >>> profile = TruncatedGaussianProfile()
    >>> radius = torch.tensor([0.0, 0.1, 0.3])
    >>> profile.evaluate(radius, sigma=torch.tensor(0.1), r_trunc=torch.tensor(0.3))
    tensor([1.0000, 0.6065, 0.0056])
    """

    name = "truncated_gaussian"
    parameters = (
        Parameter("sigma", "length", (0.03, 0.5), "Gaussian width of the surface brightness"),
        Parameter("r_trunc", "length", (0.1, 0.75), "truncation radius (mid-point of the edge)"),
    )
    #: Width of the logistic truncation edge, in units of the field of view.
    edge_width = 0.01

    def evaluate(self, radius, *, sigma, r_trunc):
        """Evaluate the surface brightness.

        Parameters
        ----------
        radius : `torch.Tensor`
            In-plane radius in units of the field of view.
        sigma : `torch.Tensor`
            Gaussian width in units of the field of view.
        r_trunc : `torch.Tensor`
            Truncation radius in units of the field of view.

        Returns
        -------
        `torch.Tensor`
            Surface brightness, 1 at the centre.
        """
        gaussian = torch.exp(-0.5 * (radius / sigma) ** 2)
        return gaussian * logistic_edge(radius, r_trunc, self.edge_width)
