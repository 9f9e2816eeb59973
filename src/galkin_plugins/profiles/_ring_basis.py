"""Interpolation between ring values, written as a basis linear in the values.

Both ring profiles are linear combinations of the values at their knots,
``f(R) = sum_k f_k phi_k(R)``; :func:`hermite_basis` and :func:`linear_basis`
return the ``phi_k`` at any radii, so a profile is ``basis @ values`` and its
derivative with respect to ``f_k`` is ``phi_k`` itself.
"""

import numpy as np
import torch

__all__ = [
    "hermite_basis",
    "hermite_values",
    "linear_basis",
    "linear_values",
    "tangent_matrix",
    "second_derivative_matrix",
]


def tangent_matrix(knots):
    """``(K, K)`` matrix ``T`` with the Hermite tangents ``m = T @ values``.

    Interior tangents are the slopes of the parabola through the knot and its
    two neighbours (second-order accurate on uneven knots); the end tangents are
    the one-sided slopes.
    """
    t = np.asarray(knots, dtype=float)
    k = t.size
    h = np.diff(t)
    slope = np.zeros((k - 1, k))  # slope d_j = (f_{j+1} - f_j) / h_j
    slope[np.arange(k - 1), np.arange(k - 1)] = -1.0 / h
    slope[np.arange(k - 1), np.arange(1, k)] = 1.0 / h
    out = np.zeros((k, k))
    out[0] = slope[0]
    out[-1] = slope[-1]
    for j in range(1, k - 1):
        out[j] = (h[j - 1] * slope[j] + h[j] * slope[j - 1]) / (h[j - 1] + h[j])
    return out


def second_derivative_matrix(knots):
    """``(K - 2, K)`` matrix giving the second derivative at each interior knot
    (the parabola through it and its neighbours), times the mean knot spacing
    squared: on even knots, plain second differences ``f_{k-1} - 2 f_k + f_{k+1}``."""
    t = np.asarray(knots, dtype=float)
    h = np.diff(t)
    scale = np.mean(h) ** 2
    out = np.zeros((t.size - 2, t.size))
    for j in range(1, t.size - 1):
        a, b = h[j - 1], h[j]
        out[j - 1, j - 1] = 2.0 / (a * (a + b))
        out[j - 1, j] = -2.0 / (a * b)
        out[j - 1, j + 1] = 2.0 / (b * (a + b))
    return out * scale


def _interval(radius, knots):
    """Index of the knot interval holding each radius (clamped to the last one)."""
    idx = torch.searchsorted(knots, radius.detach().contiguous(), right=True) - 1
    return idx.clamp(0, knots.numel() - 2)


def hermite_basis(radius, knots, tangents):
    """Cubic Hermite basis: ``(*radius.shape, K)``; constant beyond the last knot.

    Parameters
    ----------
    radius : `torch.Tensor`
    knots : `torch.Tensor`
        ``(K,)`` increasing, the first 0.
    tangents : `torch.Tensor`
        ``(K, K)`` from :func:`tangent_matrix`.
    """
    eye = torch.eye(knots.numel(), dtype=radius.dtype, device=radius.device)
    r = torch.minimum(radius, knots[-1])
    idx = _interval(r, knots)
    lo, hi = knots[idx], knots[idx + 1]
    h = hi - lo
    u = (r - lo) / h
    u2, u3 = u * u, u * u * u
    h00 = 2 * u3 - 3 * u2 + 1
    h10 = u3 - 2 * u2 + u
    h01 = -2 * u3 + 3 * u2
    h11 = u3 - u2
    return (
        h00[..., None] * eye[idx]
        + h01[..., None] * eye[idx + 1]
        + (h * h10)[..., None] * tangents[idx]
        + (h * h11)[..., None] * tangents[idx + 1]
    )


def linear_basis(radius, knots, taper):
    """Piecewise-linear basis ``(*radius.shape, K)``, falling linearly to zero over
    ``taper`` beyond the last knot."""
    eye = torch.eye(knots.numel(), dtype=radius.dtype, device=radius.device)
    r = torch.minimum(radius, knots[-1])
    idx = _interval(r, knots)
    lo, hi = knots[idx], knots[idx + 1]
    u = (r - lo) / (hi - lo)
    basis = (1 - u)[..., None] * eye[idx] + u[..., None] * eye[idx + 1]
    fade = (1.0 - (radius - knots[-1]) / taper).clamp(0.0, 1.0)
    return basis * torch.where(radius > knots[-1], fade, torch.ones_like(fade))[..., None]


def _pick(values, idx, shape):
    """``values[..., idx]`` with both broadcast to ``shape`` (no copy of ``values``)."""
    full = values.expand(*shape, values.shape[-1])
    return full.gather(-1, idx.expand(shape)[..., None])[..., 0]


def hermite_values(radius, knots, tangents, values):
    """The cubic Hermite curve through ``values`` at ``radius``, without the full basis.

    The same curve as ``(hermite_basis(radius, knots, tangents) * values).sum(-1)``
    at a cost independent of the number of knots (only the two knots around each
    radius are read).

    Parameters
    ----------
    radius : `torch.Tensor`
    knots, tangents : `torch.Tensor`
        As for :func:`hermite_basis`.
    values : `torch.Tensor`
        ``(..., K)``, the leading axes broadcastable against ``radius``.
    """
    r = torch.minimum(radius, knots[-1])
    idx = _interval(r, knots)
    shape = torch.broadcast_shapes(r.shape, values.shape[:-1])
    slopes = values @ tangents.T.to(values.dtype)
    lo, hi = knots[idx], knots[idx + 1]
    h = hi - lo
    u = (r - lo) / h
    u2, u3 = u * u, u * u * u
    return (
        (2 * u3 - 3 * u2 + 1) * _pick(values, idx, shape)
        + (-2 * u3 + 3 * u2) * _pick(values, idx + 1, shape)
        + h * (u3 - 2 * u2 + u) * _pick(slopes, idx, shape)
        + h * (u3 - u2) * _pick(slopes, idx + 1, shape)
    )


def linear_values(radius, knots, taper, values):
    """``(linear_basis(radius, knots, taper) * values).sum(-1)``, reading two knots per radius."""
    r = torch.minimum(radius, knots[-1])
    idx = _interval(r, knots)
    shape = torch.broadcast_shapes(r.shape, values.shape[:-1])
    lo, hi = knots[idx], knots[idx + 1]
    u = (r - lo) / (hi - lo)
    out = (1 - u) * _pick(values, idx, shape) + u * _pick(values, idx + 1, shape)
    fade = (1.0 - (radius - knots[-1]) / taper).clamp(0.0, 1.0)
    return out * torch.where(radius > knots[-1], fade, torch.ones_like(fade))
