"""The CAE training recipe (thesis §2.2.5) on simulated particle galaxies.

:func:`make_views` observes galaxies of the star-forming gas population
(:mod:`galkin.simulation.gas.population`) as ALMA would, or of the first,
simpler population (:func:`galkin.simulation.particles.random_galaxy`); :func:`train` minimises the
masked MSE with Adam, halving the learning rate every ``halve_every`` epochs,
drawing images with a weighted sampler (with replacement) that balances kappa
bins of width 0.1; :func:`calibrate` fits the latent post-processing.
"""

import time

import numpy as np
import torch
from astropy import units as u

from galkin.simulation.gas.population import random_gas_galaxy, random_view
from galkin.simulation.particles import observe, random_galaxy
from galkin.velocity_image import velocity_image

from . import latent as lat
from .network import ConvAutoencoder, masked_mse

__all__ = ["make_views", "kappa_weights", "train", "encode", "calibrate", "INCLINATION_BINS"]

#: Inclination bin edges (deg) of the calibrated PA errors.
INCLINATION_BINS = (5.0, 25.0, 45.0, 65.0, 85.0)


def _view(population, galaxy, rng, draw_noise):
    """Keyword arguments of :func:`~galkin.simulation.particles.observe` for one view."""
    if population == "gas":
        return random_view(rng, galaxy, snr=draw_noise())
    # the first population's views, drawn in the order its shipped sets were made
    pa, inc = rng.uniform(0, 360), rng.uniform(5, 85)
    noise = draw_noise()
    scale = rng.uniform(0.5, 1.5) * u.kpc / u.arcsec
    return {"inclination": inc * u.deg, "position_angle": pa * u.deg, "scale": scale, "snr": noise}


def make_views(
    n_galaxies, *, views=8, snr=None, noisy_fraction=1.0, size=64, seed=0, population="gas"
):
    """Moment-one training/test images of simulated galaxies.

    Parameters
    ----------
    n_galaxies : int
    views : int, optional
        Random views per galaxy.
    snr : float or tuple of float, optional
        S/N of Eq. 2.2, or a range drawn uniformly; None for noiseless.
    noisy_fraction : float, optional
        Fraction of views that get noise when ``snr`` is given.
    size : int, optional
    seed : int, optional
    population : {"gas", "v1"}, optional
        ``"gas"``: :func:`galkin.simulation.gas.population.random_gas_galaxy` seen
        under :func:`~galkin.simulation.gas.population.random_view` (beams,
        resolution, detection thresholds of real CO maps); ``"v1"``: the first
        population, :func:`galkin.simulation.particles.random_galaxy` in a 64"
        field with a 3" beam at random PA (0-360 deg) and inclination (5-85 deg).

    Returns
    -------
    dict of `numpy.ndarray`
        ``images`` (float32, N x size x size), ``masks`` (bool), ``kappa``,
        ``position_angle``, ``inclination`` (deg), ``galaxy`` (index), ``snr``
        (NaN when noiseless) and ``kind``.
    """
    if population not in ("gas", "v1"):
        raise ValueError(f"population must be 'gas' or 'v1'; got {population!r}.")
    rng = np.random.default_rng(seed)
    out = {k: [] for k in ("images", "masks", "kappa", "position_angle", "inclination")}
    out.update(galaxy=[], snr=[], kind=[])

    def draw_noise():
        if snr is not None and rng.uniform() < noisy_fraction:
            return float(rng.uniform(*snr)) if np.ndim(snr) else float(snr)
        return None

    new_galaxy = random_gas_galaxy if population == "gas" else random_galaxy
    for g in range(n_galaxies):
        galaxy = new_galaxy(n_particles=int(rng.integers(2000, 8000)), seed=rng)
        kappa = galaxy.kappa
        for _ in range(views):
            view = _view(population, galaxy, rng, draw_noise)
            noise = view["snr"]
            vel = observe(galaxy, seed=rng, **view)
            try:
                image, mask, _ = velocity_image(vel.value, size=size)
            except ValueError:  # too few detected pixels: the survey would drop it too
                continue
            pa, inc = view["position_angle"].value, view["inclination"].value
            for key, value in zip(
                out, (image, mask, kappa, pa, inc, g, noise or np.nan, galaxy.kind), strict=True
            ):
                out[key].append(value)
    out = {k: np.asarray(v) for k, v in out.items()}
    out["images"] = out["images"].astype(np.float32)
    return out


def kappa_weights(kappa, width=0.1):
    """Sampling weights that balance ``kappa`` bins of ``width`` (thesis §2.2.5)."""
    bins = np.floor(np.clip(kappa, 0, 1 - 1e-9) / width).astype(int)
    counts = np.bincount(bins)
    return 1.0 / counts[bins]


def train(
    images,
    masks,
    kappa,
    *,
    epochs=300,
    samples_per_epoch=6400,
    batch_size=32,
    lr=1e-3,
    halve_every=30,
    seed=0,
    model=None,
    sample_weight=None,
    log=None,
):
    """Train a `~galkin_plugins.cae.ConvAutoencoder` with the thesis recipe.

    Parameters
    ----------
    images, masks, kappa : array_like
        Training images (N x size x size), their valid pixels and circularities.
    epochs, samples_per_epoch, batch_size, lr, halve_every, seed : optional
        The schedule: Adam at ``lr``, halved every ``halve_every`` epochs, each
        epoch ``samples_per_epoch`` images drawn with replacement.
    model : `~galkin_plugins.cae.ConvAutoencoder`, optional
        Continue training this network (fine-tuning) instead of a new one.
    sample_weight : array_like, optional
        Per-image factors on the kappa-balancing sampling weights (e.g. to draw
        one population more often); default all 1.
    log : callable, optional
        Called with one line per epoch.

    Returns
    -------
    model : `~galkin_plugins.cae.ConvAutoencoder`
    history : list of float
        Mean masked MSE per epoch.
    """
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    x = torch.as_tensor(images, dtype=torch.float32)[:, None]
    m = torch.as_tensor(masks)[:, None]
    model = ConvAutoencoder(size=images.shape[-1]) if model is None else model.train()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=halve_every, gamma=0.5)
    factor = 1.0 if sample_weight is None else np.asarray(sample_weight, dtype=float)
    weights = torch.as_tensor(kappa_weights(kappa) * factor, dtype=torch.double)
    history = []
    for epoch in range(epochs):
        start, total = time.perf_counter(), 0.0
        idx = torch.multinomial(weights, samples_per_epoch, replacement=True, generator=gen)
        for batch in idx.split(batch_size):
            recon, _ = model(x[batch])
            loss = masked_mse(recon, x[batch], m[batch])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(batch)
        sched.step()
        history.append(total / samples_per_epoch)
        if log:
            log(
                f"epoch {epoch + 1}/{epochs} loss {history[-1]:.5f} "
                f"({time.perf_counter() - start:.1f} s)"
            )
    return model.eval(), history


def encode(model, images, batch_size=256):
    """Latent vectors ``(N, 3)`` of ``(N, size, size)`` images."""
    x = torch.as_tensor(np.asarray(images), dtype=torch.float32)[:, None]
    with torch.no_grad():
        return torch.cat([model.encode(b) for b in x.split(batch_size)]).numpy().astype(float)


def calibrate(latent, kappa, position_angle, inclination):
    """Fit the latent post-processing on simulated galaxies (thesis §2.2.6, §2.3.5).

    Returns
    -------
    dict
        JSON-serialisable: ``mean``, ``matrix`` (PCA rotation), ``boundary``,
        ``outside_is_regular``, ``train_recall``, ``pa_offset``, ``pa_bins`` and
        ``pa_sigma`` (PA 1-sigma of regular rotators per inclination bin) and
        ``pa_sigma_all``.
    """
    regular = np.asarray(kappa) > 0.5
    inclined = regular & (np.asarray(inclination) > 25)
    mean, matrix = lat.fit_rotation(latent[inclined], np.asarray(position_angle)[inclined])
    rotated = lat.rotate(latent, mean, matrix)
    radius, _ = lat.fold(rotated)
    boundary, outside, rate = lat.equal_rate_boundary(radius, regular)
    angle = np.degrees(np.arctan2(rotated[:, 1], rotated[:, 0]))
    offset = lat.pa_offset(angle[regular], np.asarray(position_angle)[regular])
    pa = lat.latent_position_angle(rotated, offset)
    sigmas = []
    for lo, hi in zip(INCLINATION_BINS[:-1], INCLINATION_BINS[1:], strict=True):
        sel = regular & (inclination >= lo) & (inclination < hi)
        sigmas.append(lat.pa_sigma(pa[sel], position_angle[sel]) if sel.any() else 180.0)
    return {
        "mean": mean.tolist(),
        "matrix": matrix.tolist(),
        "boundary": boundary,
        "outside_is_regular": bool(outside),
        "train_recall": rate,
        "pa_offset": offset,
        "pa_bins": list(INCLINATION_BINS),
        "pa_sigma": sigmas,
        "pa_sigma_all": lat.pa_sigma(pa[regular], position_angle[regular]),
    }
