"""The differentiable decoder: physical parameters -> model moment maps.

Given an intensity profile Sigma(R), a velocity profile V(R), an inclination i and
a position-angle offset, the decoder renders moment 0 and moment 1 of a disc of
finite thickness on any affine pixel grid, then convolves with the beam.

Geometry
--------
In the frame of the (de-rotated) map, ``x`` runs along the receding major axis and
``y`` along the minor axis; ``s`` is the depth along the line of sight. A point of
the disc frame (x_d, y_d, z_d) lies at

    x = x_d,    y = y_d cos i - z_d sin i,    s = y_d sin i + z_d cos i.

The gas density is ``rho = Sigma(R) exp(-|z_d| / h) / (2 h)`` with R = sqrt(x_d^2 + y_d^2)
and rotation is cylindrical, so the line-of-sight velocity is
v = V(R) (x_d / R) sin i (the encoder supplies V's amplitude already multiplied by
sin i).

Cost
----
Instead of filling an N^3 cube, each pixel's line of sight is integrated by
Gauss-Legendre quadrature over the short stretch where the gas lies: the slab
``|z_d| < 8 h`` intersected with the disc ``|y_d| < R_max``, split where z_d = 0 and
y_d = 0 (the kinks of the integrand). Cost is O(N^2 K) with K = 3 x ``nodes``.

Beam
----
Moment maps of a beam-convolved cube are exactly
M0' = B * M0 and M1' = B * (M0 M1) / B * M0, which is what :meth:`DiscDecoder.forward`
returns when beams are given. The model is rendered on a grid padded by the kernel
half-width so that flux outside the field is convolved in. Each galaxy's kernel is
its beam inside its own 4-sigma ellipse; with a ``support`` only the pixels that
footprint carries into the support are rendered.
"""

from .disc import DEFAULT_SCALE_HEIGHT as DEFAULT_SCALE_HEIGHT  # the thesis default, re-exported
from .disc import DiscDecoder

__all__ = ["DiscDecoder"]
