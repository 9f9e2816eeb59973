"""Errors of a refined fit.

The Laplace covariance over each map's residual correlation area, the systematic
floors, and draws from the posterior.
"""

import numpy as np
import torch

from .constants import (
    _MAX_LAG,
    SYSTEMATIC_FLOOR,
)
from .data import _amplitude_column, _normal_equations, _solve_nuisance


def _correlation_area(batch, model0, model1, weights):
    """Correlation area (network pixels) of each galaxy's normalised residual maps.

    The autocorrelation of the weighted residuals over the mask, normalised by
    the number of pixel pairs at each lag, summed over rings of lag up to
    `_MAX_LAG` for as long as its ring mean stays positive and decreasing; never
    less than the correlation area of the noise where it was measured in the
    cube (``batch.noise_area``; the residuals' own estimate is biased low, as the
    fit absorbs part of the noise's large-scale power), nor than one pixel.
    """
    galaxy = torch.arange(len(batch))
    w0, w1 = weights
    r0, r1, *_ = _solve_nuisance(batch, model0, model1, w0, w1, galaxy)
    h, w = batch.shape
    shape = (2 * h, 2 * w)
    lag_y = torch.fft.fftfreq(shape[0], 1.0 / shape[0])
    lag_x = torch.fft.fftfreq(shape[1], 1.0 / shape[1])
    ring = torch.round(torch.sqrt(lag_y[:, None] ** 2 + lag_x[None, :] ** 2)).long().flatten()
    inside = ring <= _MAX_LAG
    ring = ring[inside]
    areas = []
    for r, wt, mask in ((r0, w0, batch.mask0), (r1, w1, batch.mask)):
        pairs = torch.fft.irfft2(torch.fft.rfft2(mask, s=shape).abs() ** 2, s=shape)
        enough = (pairs > 0.25 * pairs[:, :1, :1]).flatten(1)[:, inside].to(r0.dtype)
        corr = torch.fft.irfft2(torch.fft.rfft2(r * torch.sqrt(wt), s=shape).abs() ** 2, s=shape)
        rho = (corr / pairs.clamp_min(1.0)).flatten(1)[:, inside]
        rho = rho / rho[:, :1].clamp_min(1e-30) * enough
        sums = torch.zeros(len(batch), _MAX_LAG + 1, dtype=r.dtype)
        counts = torch.zeros_like(sums)
        sums.index_add_(1, ring, rho)
        counts.index_add_(1, ring, enough)
        mean = (sums / counts.clamp_min(1.0)).numpy()
        total = sums.numpy()
        area = []
        for j in range(len(batch)):
            # rings while the correlation stays positive and keeps falling
            falling = (
                (mean[j, 1:] > 0) & (mean[j, 1:] <= mean[j, :-1]) & (counts[j, 1:] > 0).numpy()
            )
            stop = 1 + (int(np.argmin(falling)) if not falling.all() else len(falling))
            area.append(max(float(total[j, :stop].sum()), float(batch.noise_area[j]), 1.0))
        areas.append(torch.tensor(area, dtype=r.dtype))
    return areas


def _laplace(batch, theta, raw, weights, steps, amplitude_index, prior_precision, derivatives):
    """Posterior covariance: each map's Fisher information over its correlation area.

    ``derivatives``: the raw maps' derivative maps at ``theta`` (``(B, P, H, W)`` each).
    """
    fisher = weights.weights(fisher=True)
    areas = _correlation_area(batch, *raw, weights.weights())
    derivatives = _amplitude_column(theta, raw, derivatives, amplitude_index)
    ones = torch.ones(len(batch), dtype=theta.dtype)
    blocks, _, _ = _normal_equations(batch, raw, derivatives, fisher, ones, steps)
    info = prior_precision.clone()
    for k, block in enumerate(blocks):
        info = info + block / areas[k][:, None, None]
    return torch.linalg.inv(info), areas


def _normal_draws(n, p, seed=0):
    """``(n, p)`` standard-normal draws: exact quantiles per column, shuffled independently."""
    from scipy.stats import norm

    z = norm.ppf((np.arange(n) + 0.5) / n)
    z = z / z.std() if n > 1 else np.zeros(n)
    rng = np.random.default_rng(seed)
    return np.stack([rng.permutation(z) for _ in range(p)], 1)


def _systematic(value, keys):
    """The `SYSTEMATIC_FLOOR` of each parameter in ``keys`` at ``value`` (zero if none)."""
    floor = np.zeros(len(keys))
    for i, k in enumerate(keys):
        f = SYSTEMATIC_FLOOR.get(k, 0.0)
        floor[i] = abs(value[k]) * f[1] if isinstance(f, tuple) else f
    return floor


def posterior_draws(ref, space, n, seed=0):
    """``n`` draws from a `Refinement`'s posterior, clipped to ``space``'s bounds.

    The Laplace covariance widened by the `SYSTEMATIC_FLOOR` of each parameter;
    returns a dict of ``(n,)`` arrays, one per name in ``ref.names``.
    """
    keys = ref.names
    mean = np.array([ref.value[k] for k in keys])
    cov = 0.5 * (ref.covariance + ref.covariance.T)
    cov = cov + np.diag(_systematic(ref.value, keys) ** 2)
    chol = np.linalg.cholesky(cov + 1e-18 * np.eye(len(keys)))
    draws = mean + _normal_draws(n, len(keys), seed) @ chol.T
    lo = np.array([space.bounds.get(k, (-np.inf, np.inf))[0] for k in keys])
    hi = np.array([space.bounds.get(k, (-np.inf, np.inf))[1] for k in keys])
    draws = np.clip(draws, lo, hi)
    return {k: draws[:, i] for i, k in enumerate(keys)}
