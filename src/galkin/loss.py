"""Reconstruction loss between normalised data maps and decoder output.

Two nuisance quantities are solved in closed form per galaxy, so they never need
an encoder output and never break the physical scale:

* the moment-0 amplitude ``a`` (least squares: ``a = sum(m d) / sum(m^2)`` over the
  mask), since the decoder's Sigma(0) = 1;
* a residual systemic-velocity offset ``dv`` (mean of ``d - m`` over the mask).

Both are differentiable functions of the model maps, so gradients flow through them.
"""

import torch

__all__ = ["reconstruction_loss"]


def reconstruction_loss(data0, data1, mask, model0, model1, *, fit_offset=True):
    """Masked MSE of moment 0 and moment 1 (thesis Eq. 3.5), per galaxy.

    Parameters
    ----------
    data0, data1, mask, model0, model1 : `torch.Tensor`
        ``(B, H, W)``; ``mask`` is 1 on valid pixels.
    fit_offset : bool, optional
        Solve for a velocity offset (default) or assume the systemic velocity is exact.

    Returns
    -------
    loss : `torch.Tensor`
        ``(B,)`` MSE(moment 0) + MSE(moment 1) over the valid pixels.
    amplitude, offset : `torch.Tensor`
        ``(B,)`` closed-form moment-0 amplitude and velocity offset.
    """
    dims = (-2, -1)
    n = mask.sum(dims).clamp_min(1.0)
    amplitude = (mask * model0 * data0).sum(dims) / (mask * model0**2).sum(dims).clamp_min(1e-20)
    model0 = amplitude[:, None, None] * model0
    if fit_offset:
        offset = (mask * (data1 - model1)).sum(dims) / n
    else:
        offset = torch.zeros_like(n)
    model1 = model1 + offset[:, None, None]
    loss0 = (mask * (model0 - data0) ** 2).sum(dims) / n
    loss1 = (mask * (model1 - data1) ** 2).sum(dims) / n
    return loss0 + loss1, amplitude, offset
