"""Circularity: the fraction of kinetic energy in ordered rotation (thesis Eq. 2.1).

.. math::

    \\kappa = \\frac{K_{\\rm rot}}{K}, \\qquad
    K_{\\rm rot} = \\sum_i \\tfrac12 m_i \\left(\\frac{j_{z,i}}{R_i}\\right)^2, \\qquad
    K = \\sum_i \\tfrac12 m_i v_i^2

(Sales et al. 2012), with positions and velocities taken relative to the centre of
mass and its velocity, and ``z`` along the total angular momentum. A cold disc in
circular rotation has :math:`\\kappa = 1`; an isotropic, non-rotating system has
:math:`E[\\kappa] = 1/3` (one of three equal velocity components is azimuthal);
radially biased random motion (anisotropy :math:`\\beta`) gives
:math:`(1 - \\beta) / (3 - 2 \\beta)`, down to 0 for pure inflow or outflow. The
square ignores the sense of rotation: counter-rotating components count as ordered.
"""

import numpy as np

from ..exceptions import GalkinError

__all__ = ["circularity", "rotate_to_angular_momentum"]


def _as_particles(positions, velocities, masses):
    pos = np.asarray(positions, dtype=float)
    vel = np.asarray(velocities, dtype=float)
    if pos.ndim != 2 or pos.shape[1] != 3 or vel.shape != pos.shape:
        raise GalkinError(
            f"positions and velocities must both have shape (N, 3); got {pos.shape} and "
            f"{vel.shape}."
        )
    mass = np.ones(len(pos)) if masses is None else np.asarray(masses, dtype=float)
    if mass.shape != (len(pos),):
        raise GalkinError(f"masses must have shape ({len(pos)},); got {mass.shape}.")
    if len(pos) < 2 or not np.all(mass >= 0) or mass.sum() <= 0:
        raise GalkinError("Need at least two particles with non-negative masses summing to > 0.")
    return pos, vel, mass


def rotate_to_angular_momentum(positions, velocities, masses=None):
    """Centre particles on their centre of mass and rotate the total ``L`` onto +z.

    Parameters
    ----------
    positions, velocities : array_like, shape ``(N, 3)``
        Any consistent units (e.g. kpc and km/s).
    masses : array_like, shape ``(N,)``, optional
        Particle masses (equal when omitted).

    Returns
    -------
    positions, velocities : `numpy.ndarray`
        Relative to the centre of mass and its velocity, in a right-handed frame
        whose +z is the total angular momentum (unchanged orientation if ``L = 0``).
    """
    pos, vel, mass = _as_particles(positions, velocities, masses)
    pos = pos - np.average(pos, axis=0, weights=mass)
    vel = vel - np.average(vel, axis=0, weights=mass)
    ang = (mass[:, None] * np.cross(pos, vel)).sum(axis=0)
    norm = np.linalg.norm(ang)
    if norm == 0:
        return pos, vel
    z = ang / norm
    helper = np.array([1.0, 0.0, 0.0]) if abs(z[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    x = np.cross(helper, z)
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    rot = np.stack([x, y, z])  # rows: new axes in old coordinates
    return pos @ rot.T, vel @ rot.T


def circularity(positions, velocities, masses=None):
    """Circularity ``kappa = K_rot / K`` of a particle system (thesis Eq. 2.1).

    Parameters
    ----------
    positions, velocities : array_like, shape ``(N, 3)``
        Particle positions and velocities (any consistent units).
    masses : array_like, shape ``(N,)``, optional
        Particle masses (equal when omitted).

    Returns
    -------
    float
        ``kappa`` in [0, 1]; 0 for a system with no motion.

    Examples
    --------
    >>> import numpy as np
    >>> phi = np.linspace(0, 2 * np.pi, 100, endpoint=False)
    >>> pos = np.stack([np.cos(phi), np.sin(phi), 0 * phi], axis=1)
    >>> vel = np.stack([-np.sin(phi), np.cos(phi), 0 * phi], axis=1) * 200
    >>> round(circularity(pos, vel), 6)
    1.0
    """
    pos, vel = rotate_to_angular_momentum(positions, velocities, masses)
    mass = np.ones(len(pos)) if masses is None else np.asarray(masses, dtype=float)
    radius = np.hypot(pos[:, 0], pos[:, 1])
    jz = pos[:, 0] * vel[:, 1] - pos[:, 1] * vel[:, 0]
    v_phi = np.divide(jz, radius, out=np.zeros_like(jz), where=radius > 0)
    k_total = 0.5 * np.sum(mass * np.sum(vel**2, axis=1))
    if k_total == 0:
        return 0.0
    return float(0.5 * np.sum(mass * v_phi**2) / k_total)
