"""Latent-space post-processing of thesis §2.2.6: PCA rotation, fold, boundary, PA.

All functions are plain NumPy so they can be tested without a network.

* :func:`fit_rotation` finds the PCA axes of the latent vectors and orders them
  so that the position angle is the angle in the (x, y) plane, increasing with
  PA (the handedness is fixed by flipping y), and ``z`` is the remaining axis.
* :func:`fold` maps rotated latents to ``(sqrt(x^2 + y^2), |z|)``.
* :func:`equal_rate_boundary` puts the boundary on the latent radius where the
  true-positive rate (regular rotators outside it) equals the true-negative rate.
* :func:`latent_position_angle` is ``atan2(y, x)`` minus the calibrated offset.
"""

import numpy as np

__all__ = [
    "fit_rotation",
    "rotate",
    "fold",
    "equal_rate_boundary",
    "latent_position_angle",
    "pa_offset",
    "pa_sigma",
]


def _angle_residual(a_deg, b_deg):
    return np.mod(np.asarray(a_deg) - b_deg + 180.0, 360.0) - 180.0


def rotate(latent, mean, matrix):
    """Apply a rotation from :func:`fit_rotation`: ``(latent - mean) @ matrix``."""
    return (np.asarray(latent, dtype=float) - mean) @ matrix


def fit_rotation(latent, position_angle_deg=None):
    """PCA rotation of ``(N, 3)`` latents, with ``z`` the axis that does not carry PA.

    Parameters
    ----------
    latent : array_like, shape ``(N, 3)``
    position_angle_deg : array_like, shape ``(N,)``, optional
        True PAs of (regular) galaxies; without them the least-variance PCA axis
        is ``z`` and the handedness is left as PCA gives it.

    Returns
    -------
    mean : `numpy.ndarray`, shape ``(3,)``
    matrix : `numpy.ndarray`, shape ``(3, 3)``
        Columns are the rotated x, y, z axes in the original latent space.
    """
    latent = np.asarray(latent, dtype=float)
    mean = latent.mean(axis=0)
    _, _, vt = np.linalg.svd(latent - mean, full_matrices=False)
    axes = vt.T  # columns: principal axes, by decreasing variance
    if position_angle_deg is None:
        return mean, axes
    best = None
    for z_axis in range(3):
        xy = [k for k in range(3) if k != z_axis]
        for flip in (1.0, -1.0):
            matrix = np.stack([axes[:, xy[0]], flip * axes[:, xy[1]], axes[:, z_axis]], 1)
            rot = rotate(latent, mean, matrix)
            angle = np.degrees(np.arctan2(rot[:, 1], rot[:, 0]))
            offset = pa_offset(angle, position_angle_deg)
            score = pa_sigma(angle - offset, position_angle_deg)
            if best is None or score < best[0]:
                best = (score, matrix)
    return mean, best[1]


def fold(rotated):
    """Fold rotated latents: returns ``(radius, height) = (sqrt(x^2 + y^2), |z|)``."""
    rotated = np.atleast_2d(rotated)
    return np.hypot(rotated[:, 0], rotated[:, 1]), np.abs(rotated[:, 2])


def equal_rate_boundary(radius, regular):
    """Boundary on the latent radius where the TP and TN rates meet.

    Parameters
    ----------
    radius : array_like
        Folded latent radii.
    regular : array_like of bool
        True labels (``kappa > 0.5``).

    Returns
    -------
    boundary : float
    outside_is_regular : bool
        Whether regular rotators lie beyond the boundary (larger radius).
    rate : float
        The common TP/TN rate at the boundary (the mean recall of the classes).
    """
    radius, regular = np.asarray(radius, float), np.asarray(regular, bool)
    if regular.all() or not regular.any():
        raise ValueError("Need both regular and disturbed galaxies to place a boundary.")
    candidates = np.unique(radius)
    # fraction of each class at or below each candidate boundary
    below_reg = np.searchsorted(np.sort(radius[regular]), candidates, "right") / regular.sum()
    below_dis = np.searchsorted(np.sort(radius[~regular]), candidates, "right") / (~regular).sum()
    best = None
    for outside in (True, False):
        tpr = 1 - below_reg if outside else below_reg
        tnr = below_dis if outside else 1 - below_dis
        # where the two rates meet (ties: the larger sum) ...
        k = np.lexsort((-(tpr + tnr), np.abs(tpr - tnr)))[0]
        rate = 0.5 * (tpr[k] + tnr[k])
        # ... in the direction that separates the classes (the other meets below 0.5)
        if best is None or rate > best[2]:
            best = (float(candidates[k]), outside, float(rate))
    return best


def pa_offset(angle_deg, position_angle_deg):
    """Circular median of ``angle - PA``: the offset subtracted from latent angles."""
    diff = _angle_residual(angle_deg, position_angle_deg)
    # centre on the circular mean, then take the median there (robust to flips)
    centre = np.degrees(np.angle(np.mean(np.exp(1j * np.radians(diff)))))
    return float(centre + np.median(_angle_residual(diff, centre)))


def latent_position_angle(rotated, offset_deg):
    """Position angle in degrees [0, 360): ``atan2(y, x) - offset``."""
    rotated = np.atleast_2d(rotated)
    return np.mod(np.degrees(np.arctan2(rotated[:, 1], rotated[:, 0])) - offset_deg, 360.0)


def pa_sigma(predicted_deg, true_deg):
    """1-sigma PA error: the 68.27th percentile of ``|predicted - true|`` (wrapped).

    NaN when there is nothing to measure.
    """
    if np.size(true_deg) == 0:
        return float("nan")
    return float(np.percentile(np.abs(_angle_residual(predicted_deg, true_deg)), 68.27))
