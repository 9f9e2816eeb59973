"""The combined decision: the CAE's latent radius, a rotating-disc fit and PA consistency.

The thesis's decision (:mod:`~galkin_plugins.cae.latent`) is a boundary on the
folded latent radius. A disturbed velocity field is also one that a rotating
disc does not describe, and whose position angle the CAE and a disc fit do not
agree on. :func:`features` collects, per map,

* ``radius`` -- the folded latent radius (the thesis's quantity);
* ``height`` -- the folded latent ``|z|``;
* ``log_residual`` -- log10 of the rms residual of
  :func:`galkin.disc_fit.fit_rotating_disc` on the normalised image;
* ``log_roughness`` -- log10 of the image's pixel-to-pixel scatter
  (:func:`galkin.velocity_image.roughness`), which tells noise (rough, but a
  disc still fits on large scales) from disorder;
* ``pa_disagreement`` -- ``|PA_CAE - PA_disc|`` (0-180 deg) over 180.

:func:`fit_decision` fits a logistic regression of ``kappa > 0.5`` on them over
held-out simulations (not the CAE's training images) and puts the threshold
where the true-positive and true-negative rates are equal, as the thesis does
for its boundary; :func:`decide` applies it. The fitted rule is plain numbers
stored in the CAE weights' metadata (``scripts/fit_cae_decision.py`` refits it
in one command).

Whether gas is disturbed cannot depend on how a map's pixels are stored: a
rotation by quarter turns or a mirror image of a rotating disc is a rotating
disc. The CAE is not exactly invariant (11-15% of held-out simulated maps, and 3
of the 10 real development maps, changed label under one of the eight), so the
classifier averages the rule's score over the image's :data:`ORIENTATIONS`
(:func:`orient`; the CAE's PA taken back to the image's own frame by
:func:`original_position_angle` before it is compared with the disc fit's).
"""

import numpy as np

from galkin.disc_fit import fit_rotating_disc
from galkin.velocity_image import roughness

from . import latent as lat

__all__ = [
    "FEATURES",
    "ORIENTATIONS",
    "disc_features",
    "features",
    "fit_decision",
    "decide",
    "orient",
    "original_position_angle",
]

#: Feature names, in the order of the coefficient vector.
FEATURES = ("radius", "height", "log_residual", "log_roughness", "pa_disagreement")

#: The eight orientations of a square image, ``(quarter_turns, mirror)``: the
#: rotations by 0-3 quarter turns (`numpy.rot90`), each also mirrored left-right.
ORIENTATIONS = tuple((turns, mirror) for turns in range(4) for mirror in (False, True))


def orient(images, quarter_turns, mirror):
    """``(N, n, n)`` images rotated by ``quarter_turns`` (`numpy.rot90` on the last two
    axes) and then, if ``mirror``, reversed left-right (a C-contiguous copy)."""
    out = np.rot90(np.asarray(images), quarter_turns, axes=(-2, -1))
    if mirror:
        out = out[..., ::-1]
    return np.ascontiguousarray(out)


def original_position_angle(position_angle, quarter_turns, mirror):
    """A PA (deg, east of north with north up and east left) measured on
    ``orient(image, quarter_turns, mirror)``, in the frame of ``image`` itself."""
    pa = -np.asarray(position_angle) if mirror else np.asarray(position_angle)
    return np.mod(pa + 90.0 * quarter_turns, 360.0)


def disc_features(images, masks):
    """``(log_residual, disc PA, log_roughness)`` of each image.

    The first two from :func:`~galkin.disc_fit.fit_rotating_disc`, the last from
    :func:`~galkin.velocity_image.roughness`.
    """
    out = np.empty((len(images), 3))
    for k, (image, mask) in enumerate(zip(images, masks, strict=True)):
        fit = fit_rotating_disc(image, mask)
        rough = roughness(image, mask)
        out[k] = np.log10(max(fit.residual, 1e-4)), fit.position_angle, np.log10(max(rough, 1e-4))
    return out


def features(radius, height, latent_pa, disc):
    """Stack the decision features.

    Parameters
    ----------
    radius, height, latent_pa : array_like
        Folded latent radius and height, latent PA (deg).
    disc : array_like, shape ``(N, 3)``
        Output of :func:`disc_features`.

    Returns
    -------
    `numpy.ndarray`, shape ``(N, len(FEATURES))``
    """
    disc = np.atleast_2d(disc)
    diff = np.abs(np.mod(np.asarray(latent_pa) - disc[:, 1] + 180.0, 360.0) - 180.0)
    return np.column_stack([radius, height, disc[:, 0], disc[:, 2], diff / 180.0])


def _logistic(x, y, weight, ridge=1e-3, iterations=50):
    """Weighted logistic regression by Newton's method (with a small ridge)."""
    design = np.column_stack([np.ones(len(x)), x])
    beta = np.zeros(design.shape[1])
    penalty = ridge * np.eye(design.shape[1])
    penalty[0, 0] = 0.0
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-design @ beta))
        grad = design.T @ (weight * (p - y)) + penalty @ beta
        hess = (design * (weight * p * (1 - p))[:, None]).T @ design + penalty
        delta = np.linalg.solve(hess, grad)
        beta -= delta
        if np.max(np.abs(delta)) < 1e-8:
            break
    return beta


def fit_decision(feature_matrix, kappa):
    """Fit the combined rule on held-out simulated maps.

    The classes are weighted equally (whatever their numbers) and the threshold
    on the score is put where the TP and TN rates are equal.

    Parameters
    ----------
    feature_matrix : array_like, shape ``(N, len(FEATURES))``
    kappa : array_like
        Circularity of each map's galaxy.

    Returns
    -------
    dict
        JSON-serialisable: ``features``, ``mean``, ``scale``, ``coef``,
        ``intercept``, ``threshold`` and ``rate`` (the common TP/TN rate on
        these maps).
    """
    x = np.asarray(feature_matrix, dtype=float)
    regular = np.asarray(kappa) > 0.5
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-12
    z = (x - mean) / scale
    weight = np.where(regular, 0.5 / regular.sum(), 0.5 / (~regular).sum()) * len(x)
    beta = _logistic(z, regular.astype(float), weight)
    score = beta[0] + z @ beta[1:]
    threshold, above_is_regular, rate = lat.equal_rate_boundary(score, regular)
    if not above_is_regular:  # pragma: no cover - the fit makes high scores regular
        raise ValueError("The fitted score does not rank regular rotators higher.")
    return {
        "features": list(FEATURES),
        "mean": mean.tolist(),
        "scale": scale.tolist(),
        "coef": beta[1:].tolist(),
        "intercept": float(beta[0]),
        "threshold": float(threshold),
        "rate": float(rate),
    }


def decide(rule, feature_matrix):
    """Score minus threshold for each map: positive means a regular rotator."""
    z = (np.asarray(feature_matrix, dtype=float) - rule["mean"]) / np.asarray(rule["scale"])
    return rule["intercept"] + z @ np.asarray(rule["coef"]) - rule["threshold"]
