"""Exponential disc with a sharp outer edge: gas that ends inside the data."""

import numpy as np
import torch

from galkin.profiles import IntensityProfile, Parameter

from .truncated_gaussian import logistic_edge

__all__ = ["TruncatedExponentialProfile"]

#: Where a fit starts the edge (field units): beyond the light of most discs, so
#: that the refinement pulls it in only where the data end before the exponential.
START_EDGE = 0.6


class TruncatedExponentialProfile(IntensityProfile):
    r"""Exponential disc truncated at an outer radius (``intensity="truncated_exponential"``).

    .. math::

        \Sigma(R) = \exp(-R / r_\mathrm{scale})
        \frac{s\left((r_\mathrm{trunc} - R) / w\right)}{s(r_\mathrm{trunc} / w)},
        \qquad s(t) = \frac{1}{1 + e^{-t}}

    with a logistic edge of fixed width :math:`w` (:attr:`edge_width`, 0.01 of
    the field) that keeps it differentiable in :math:`r_\mathrm{trunc}`.  HI and
    CO discs often end abruptly (ram-pressure or tidal truncation, the
    molecular-to-atomic transition, a survey's sensitivity): an exponential
    fitted to such a disc seen at i > 60 deg reads the sudden end of the
    minor axis as foreshortening, and its inclination comes out several
    degrees high (`galkin.quality` flags such fits ``truncated``).

    The pretrained networks know only the plain exponential, which is this
    profile's ``proxy``: a blind fit starts from the network's exponential
    estimate with the edge at ``START_EDGE`` (0.6 of the field), far out, and
    the refinement moves it in where the data end first. It is not the default:
    on discs without an edge it fits worse than the exponential (the referee's
    ``hard`` set: 0.88 against 0.48 deg median inclination error).

    Examples
    --------
    >>> import torch
    >>> profile = TruncatedExponentialProfile()
    >>> values = profile.evaluate(
    ...     torch.tensor([0.0, 0.1, 0.3]), r_scale=torch.tensor(0.1), r_trunc=torch.tensor(0.2)
    ... )
    >>> [round(float(v), 4) for v in values]
    [1.0, 0.3679, 0.0]
    """

    name = "truncated_exponential"
    parameters = (
        Parameter(
            "r_scale", "length", (0.05, 0.5), "exponential scale length of the surface brightness"
        ),
        Parameter("r_trunc", "length", (0.05, 1.5), "truncation radius (mid-point of the edge)"),
    )
    proxy = "exponential"
    #: Width of the logistic edge, in units of the field of view.
    edge_width = 0.01

    def evaluate(self, radius, *, r_scale, r_trunc):
        """Evaluate the surface brightness.

        Parameters
        ----------
        radius : `torch.Tensor`
            In-plane radius in units of the field of view.
        r_scale : `torch.Tensor`
            Scale length in units of the field of view.
        r_trunc : `torch.Tensor`
            Truncation radius in units of the field of view.

        Returns
        -------
        `torch.Tensor`
            Surface brightness, 1 at the centre.
        """
        return torch.exp(-radius / r_scale) * logistic_edge(radius, r_trunc, self.edge_width)

    def from_proxy(self, proxy, values):
        """The exponential's scale length, and the edge at ``START_EDGE``."""
        lo, hi = self.parameters[0].bounds
        scale = np.clip(np.atleast_1d(np.asarray(values["r_scale"], dtype=float)), lo, hi)
        return {"r_scale": scale, "r_trunc": np.full_like(scale, START_EDGE)}
