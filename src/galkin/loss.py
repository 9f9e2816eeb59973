"""Reconstruction loss between normalised data maps and decoder output.

Two nuisance quantities are solved in closed form per galaxy, so they never need
an encoder output and never break the physical scale:

* the moment-0 amplitude ``a`` (least squares: ``a = sum(m d) / sum(m^2)`` over the
  mask), since the decoder's Sigma(0) = 1;
* a residual systemic-velocity offset ``dv`` (mean of ``d - m`` over the mask).

Both are differentiable functions of the model maps, so gradients flow through them.

Moment 0 is compared either linearly (the thesis) or as ``log(M0 + floor)``
(``moment0_scale="log"``). The linear MSE is dominated by the brightest pixels: in
an HI disc these are the bar, ring and spiral arms of the inner disc, so an
axisymmetric model takes its shape -- and its inclination -- from the least
axisymmetric part of the galaxy. In log scale each isophote counts alike, as in
an ellipse fit, so the outer disc, whose axis ratio tilted-ring fits rely on,
constrains the inclination too. The amplitude is then solved by Gauss-Newton in
log space, starting from the linear least-squares value.
"""

import torch

__all__ = ["reconstruction_loss", "MOMENT0_SCALES", "LOG_FLOOR"]

#: How moment 0 can be compared.
MOMENT0_SCALES = ("linear", "log")
#: Floor added before taking logs, as a fraction of the normalised peak (1).
LOG_FLOOR = 0.01


def _log_amplitude(data0, model0, mask, amplitude, floor, steps=4):
    """Refine ``amplitude`` to minimise the masked MSE of ``log(a m + floor) - log(d + floor)``."""
    dims = (-2, -1)
    target = torch.log(data0.clamp_min(0.0) + floor)
    c = torch.log(amplitude.clamp_min(1e-20))
    for _ in range(steps):
        scaled = torch.exp(c)[:, None, None] * model0
        resid = torch.log(scaled + floor) - target
        grad = mask * scaled / (scaled + floor)  # d resid / d log a
        c = c - (grad * resid).sum(dims) / (grad**2).sum(dims).clamp_min(1e-20)
    return torch.exp(c)


def reconstruction_loss(
    data0, data1, mask, model0, model1, *, fit_offset=True, moment0_scale="linear"
):
    """Masked MSE of moment 0 and moment 1 (thesis Eq. 3.5), per galaxy.

    Parameters
    ----------
    data0, data1, mask, model0, model1 : `torch.Tensor`
        ``(B, H, W)``; ``mask`` is 1 on valid pixels.
    fit_offset : bool, optional
        Solve for a velocity offset (default) or assume the systemic velocity is exact.
    moment0_scale : {"linear", "log"}, optional
        Compare moment 0 linearly (thesis) or as ``log(M0 + 0.01)`` of the
        peak-normalised maps, which weights every isophote alike (see the module notes).

    Returns
    -------
    loss : `torch.Tensor`
        ``(B,)`` MSE(moment 0) + MSE(moment 1) over the valid pixels.
    amplitude, offset : `torch.Tensor`
        ``(B,)`` closed-form moment-0 amplitude and velocity offset.
    """
    if moment0_scale not in MOMENT0_SCALES:
        raise ValueError(f"moment0_scale must be one of {MOMENT0_SCALES}; got {moment0_scale!r}.")
    dims = (-2, -1)
    n = mask.sum(dims).clamp_min(1.0)
    amplitude = (mask * model0 * data0).sum(dims) / (mask * model0**2).sum(dims).clamp_min(1e-20)
    if moment0_scale == "log":
        amplitude = _log_amplitude(data0, model0, mask, amplitude, LOG_FLOOR)
    model0 = amplitude[:, None, None] * model0
    if fit_offset:
        offset = (mask * (data1 - model1)).sum(dims) / n
    else:
        offset = torch.zeros_like(n)
    model1 = model1 + offset[:, None, None]
    if moment0_scale == "log":
        model0_t = torch.log(model0.clamp_min(0.0) + LOG_FLOOR)
        data0_t = torch.log(data0.clamp_min(0.0) + LOG_FLOOR)
    else:
        model0_t, data0_t = model0, data0
    loss0 = (mask * (model0_t - data0_t) ** 2).sum(dims) / n
    loss1 = (mask * (model1 - data1) ** 2).sum(dims) / n
    return loss0 + loss1, amplitude, offset
