"""Sersic surface-brightness profile with the Ciotti & Bertin (1999) b_n."""

import torch

from galkin.profiles import IntensityProfile, Parameter

__all__ = ["SersicProfile", "sersic_b"]


def sersic_b(n):
    """Return b_n such that the effective radius encloses half of the light.

    Uses the asymptotic expansion of Ciotti & Bertin (1999, A&A 352, 447,
    Eq. 18), accurate to better than 1e-3 in b_n for n > 0.36 (exact value:
    the root of ``gammainc(2 n, b_n) = 1/2``; b_1 = 1.67835).

    Parameters
    ----------
    n : float or `torch.Tensor`
        Sersic index.

    Returns
    -------
    float or `torch.Tensor`
        b_n, of the same type as ``n`` (differentiable for tensors).

    Examples
    --------
    >>> round(sersic_b(1.0), 5)
    1.67839
    """
    return (
        2.0 * n
        - 1.0 / 3.0
        + 4.0 / (405.0 * n)
        + 46.0 / (25515.0 * n**2)
        + 131.0 / (1148175.0 * n**3)
        - 2194697.0 / (30690717750.0 * n**4)
    )


class SersicProfile(IntensityProfile):
    r"""Sersic (1963) profile, normalised to 1 at the centre.

    .. math::

        \Sigma(R) = \exp\left[-b_n (R / r_e)^{1/n}\right]

    with :math:`b_n` from :func:`sersic_b`, so that :math:`r_e` is the
    half-light radius of the face-on disc.  ``n = 1`` is an exponential disc
    with scale length :math:`r_e / b_1`, ``n = 0.5`` a Gaussian and ``n = 4``
    a de Vaucouleurs bulge.  The power is evaluated in log space with the
    radius clamped at the smallest normal float, so the value (1) and the
    gradients at R = 0 are finite.

    Examples
    --------
    >>> import torch
    >>> profile = SersicProfile()
    >>> r_e = torch.tensor(0.2)
    >>> profile.evaluate(torch.tensor([0.0, 0.2]), r_e=r_e, n=torch.tensor(1.0))
    tensor([1.0000, 0.1867])
    """

    name = "sersic"
    parameters = (
        Parameter("r_e", "length", (0.03, 0.6), "effective (half-light) radius"),
        Parameter(
            "n", "dimensionless", (0.5, 4.0), "Sersic index (1: exponential, 4: de Vaucouleurs)"
        ),
    )

    def evaluate(self, radius, *, r_e, n):
        """Evaluate the surface brightness.

        Parameters
        ----------
        radius : `torch.Tensor`
            In-plane radius in units of the field of view.
        r_e : `torch.Tensor`
            Effective radius in units of the field of view.
        n : `torch.Tensor`
            Sersic index.

        Returns
        -------
        `torch.Tensor`
            Surface brightness, 1 at the centre.
        """
        log_radius = torch.log(torch.clamp_min(radius, torch.finfo(radius.dtype).tiny))
        scaled = torch.exp((log_radius - torch.log(r_e)) / n)
        return torch.exp(-sersic_b(n) * scaled)
