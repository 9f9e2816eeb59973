"""Training and Monte-Carlo-dropout inference for the SAE.

Training follows the thesis (§3.2.5): Adam, created once, with the learning rate
multiplied by ``decay`` every ``decay_every`` epochs. Augmentation uses the disc
model's exact symmetries -- mirroring about the major axis, and about the minor
axis with the velocity sign flipped -- which change the sign of the beam angle and
of the position-angle offset but nothing else.
"""

from dataclasses import dataclass

import numpy as np
import torch

__all__ = [
    "MapBatch",
    "TrainingConfig",
    "stack_prepared",
    "warm_start",
    "train",
    "train_supervised",
    "predict",
]

#: Beam used for galaxies without one: effectively a delta function.
_NO_BEAM = (1e-4, 1e-4, 0.0)


@dataclass
class MapBatch:
    """Network inputs of N galaxies as tensors."""

    m0: torch.Tensor
    m1: torch.Tensor
    mask: torch.Tensor
    beams: torch.Tensor

    def __len__(self):
        return self.m0.shape[0]

    def to(self, device):
        return MapBatch(*(t.to(device) for t in (self.m0, self.m1, self.mask, self.beams)))

    def index(self, idx):
        return MapBatch(self.m0[idx], self.m1[idx], self.mask[idx], self.beams[idx])


@dataclass
class TrainingConfig:
    """Hyper-parameters of one training run (thesis defaults in brackets).

    Attributes
    ----------
    epochs : int
        Passes over the training set (300).
    batch_size : int
        (64 for simulations, 16 for surveys.)
    lr : float
        Initial Adam learning rate (1e-4).
    decay, decay_every : float, int
        Multiply the learning rate by ``decay`` every ``decay_every`` epochs (0.975, 2).
    min_samples : int
        In solo mode the single galaxy is repeated (with augmentation) to fill
        at least this many samples per epoch.
    moment0_scale : {"linear", "log"}
        How the loss compares moment 0 ("linear" in the thesis; "log" weights every
        isophote alike, see `galkin.loss.reconstruction_loss`).
    """

    epochs: int = 300
    batch_size: int = 64
    lr: float = 1e-4
    decay: float = 0.975
    decay_every: int = 2
    min_samples: int = 1
    moment0_scale: str = "linear"

    def as_dict(self):
        return dict(self.__dict__)


def stack_prepared(prepared):
    """Turn a list of `~galkin.preprocess.PreparedMaps` into a :class:`MapBatch`."""
    beams = [p.scales.beam if p.scales.beam is not None else _NO_BEAM for p in prepared]
    return MapBatch(
        m0=torch.tensor(np.stack([p.moment0 for p in prepared])),
        m1=torch.tensor(np.stack([p.moment1 for p in prepared])),
        mask=torch.tensor(np.stack([p.mask for p in prepared])),
        beams=torch.tensor(np.array(beams), dtype=torch.float32),
    )


def _augment(batch, generator):
    """Random mirror about the major axis and/or the minor axis (velocity negated).

    Returns the mirrored batch and the galaxies mirrored once (not twice): for those
    the beam angle and the position-angle offset change sign.
    """
    n = len(batch)
    flip_rows = torch.rand(n, generator=generator) < 0.5
    flip_cols = torch.rand(n, generator=generator) < 0.5
    m0, m1, mask, beams = (
        batch.m0.clone(),
        batch.m1.clone(),
        batch.mask.clone(),
        batch.beams.clone(),
    )
    for sel, dim, sign in ((flip_rows, -2, 1.0), (flip_cols, -1, -1.0)):
        if sel.any():
            m0[sel] = m0[sel].flip(dim)
            m1[sel] = sign * m1[sel].flip(dim)
            mask[sel] = mask[sel].flip(dim)
    odd = flip_rows ^ flip_cols
    beams[odd, 2] = -beams[odd, 2]
    return MapBatch(m0, m1, mask, beams), odd


@torch.no_grad()
def warm_start(net, data, *, trials=128, rounds=3, max_galaxies=16, seed=None, device="cpu"):
    """Point the untrained encoders' outputs at a random-search best guess.

    For each of the first ``max_galaxies`` galaxies, ``trials`` random parameter
    vectors are decoded and scored; the search then narrows around the best one
    for ``rounds - 1`` more rounds. The heads' biases are set to the median best
    guess, so training starts near the answer instead of mid-range (the search
    works for any registered profile pair: it only uses the decoder).
    """
    from galkin.loss import reconstruction_loss

    generator = torch.Generator().manual_seed(0 if seed is None else int(seed))
    space = net.space
    names = space.moment0_names + space.moment1_names
    fixed = names.index("pa_offset")
    net.to(device)
    best_z = []
    for g in range(min(len(data), max_galaxies)):
        one = data.index(slice(g, g + 1)).to(device)
        centre = torch.zeros(len(names))
        width = 0.9
        for _round in range(rounds):
            z = centre + width * (2 * torch.rand(trials, len(names), generator=generator) - 1)
            z = z.clamp(-0.95, 0.95)
            z[:, fixed] = 0.0
            z[0] = centre
            losses = []
            for chunk in z.split(64):
                chunk = chunk.to(device)
                params = space.from_unit(names, chunk)
                n = chunk.shape[0]
                m0, m1 = net.decode(params, one.beams.expand(n, 3))
                data0, data1, mask = (t.expand(n, -1, -1) for t in (one.m0, one.m1, one.mask))
                loss = reconstruction_loss(
                    data0, data1, mask, m0, m1, moment0_scale=net.moment0_scale
                )[0]
                losses.append(loss.cpu())
            centre = z[int(torch.cat(losses).argmin())]
            width *= 0.25
        best_z.append(centre)
    z = torch.stack(best_z).median(0).values
    n0 = len(space.moment0_names)
    net.encoder0.set_output(z[:n0])
    net.encoder1.set_output(z[n0:])
    return dict(zip(names, z.tolist(), strict=True))


def _start_training(net, config, seed, device):
    """Seed, move ``net`` to ``device`` in training mode; the thesis's Adam and schedule.

    Returns the augmentation generator, the optimiser (created once) and the
    scheduler (learning rate x ``decay`` every ``decay_every`` epochs).
    """
    generator = torch.Generator().manual_seed(0 if seed is None else int(seed))
    if seed is not None:
        torch.manual_seed(int(seed))
    net.to(device).train()
    optimiser = torch.optim.Adam(net.parameters(), lr=config.lr)
    scheduler = torch.optim.lr_scheduler.StepLR(
        optimiser, step_size=config.decay_every, gamma=config.decay
    )
    return generator, optimiser, scheduler


def train(net, data, config, *, seed=None, device="cpu", augment=True, progress=None):
    """Train ``net`` on ``data`` (a :class:`MapBatch`); returns the loss per epoch."""
    net.moment0_scale = config.moment0_scale
    generator, optimiser, scheduler = _start_training(net, config, seed, device)
    n = len(data)
    repeats = max(1, int(np.ceil(config.min_samples / n)))
    history = []
    for _epoch in range(config.epochs):
        order = torch.randperm(n * repeats, generator=generator) % n
        total = 0.0
        for start in range(0, len(order), config.batch_size):
            batch = data.index(order[start : start + config.batch_size])
            if augment:
                batch = _augment(batch, generator)[0]
            batch = batch.to(device)
            loss = net(batch.m0, batch.m1, batch.mask, batch.beams)[0].mean()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total += loss.item() * len(batch)
        scheduler.step()
        history.append(total / len(order))
        if progress is not None:
            progress(history[-1])
    net.eval()
    return history


def train_supervised(
    net,
    data,
    targets,
    config,
    *,
    beta=0.5,
    weights=None,
    average_every=None,
    seed=None,
    device="cpu",
    progress=None,
):
    """Train ``net`` on simulated galaxies whose true parameters are known.

    The bounded outputs regress onto the truths and the aleatoric heads learn each
    output's scatter, with the beta-weighted Gaussian negative log-likelihood of
    Seitzer et al. (2022): ``sg(s^(2 beta)) [(z - t)^2 / s^2 + log s^2] / 2`` per
    output, which balances the parameters by their attainable precision without
    letting the variance stall the means (``beta = 0`` is the plain likelihood).

    Parameters
    ----------
    net : `~galkin_plugins.sae.network.SAENetwork`
        Built with ``aleatoric=True``.
    data : MapBatch
    targets : `torch.Tensor`
        ``(N, n_parameters)`` truths in output units ([-1, 1], ``net.space.names`` order).
    config : TrainingConfig
    beta : float, optional
    weights : `torch.Tensor`, optional
        ``(N, n_parameters)`` factors on each galaxy's loss terms (e.g. to measure
        a velocity error in km/s rather than in units of the galaxy's ``v_scale``).
    average_every : int, optional
        Keep the running mean of the network's weights, sampled every this many
        optimiser steps, and end with it (stochastic weight averaging, Izmailov
        et al. 2018): the mean of the noisy late iterates generalises better
        than the last one. Meant for a final phase at a small learning rate.
    progress : callable, optional
        Called with ``(epoch, mean loss)`` after every epoch.

    Returns
    -------
    list of float
        Mean loss per epoch.
    """
    if not net.aleatoric:
        raise ValueError(
            "train_supervised needs a network built with "
            "galkin_plugins.sae.network.SAENetwork(..., aleatoric=True)."
        )
    flip = torch.tensor([name == "pa_offset" for name in net.space.names])
    if weights is not None and tuple(weights.shape) != tuple(targets.shape):
        raise ValueError(
            f"weights must have the shape of targets {tuple(targets.shape)}; "
            f"got {tuple(weights.shape)}."
        )
    generator, optimiser, scheduler = _start_training(net, config, seed, device)
    average = None
    if average_every is not None:
        average = torch.optim.swa_utils.AveragedModel(net)
    steps = 0
    history = []
    for epoch in range(config.epochs):
        order = torch.randperm(len(data), generator=generator)
        total = 0.0
        for start in range(0, len(order), config.batch_size):
            idx = order[start : start + config.batch_size]
            batch, odd = _augment(data.index(idx), generator)
            target = targets[idx].clone()
            target[odd[:, None] & flip[None, :]] *= -1.0
            batch, target = batch.to(device), target.to(device)
            f0, f1 = net.features(*net.inputs(batch.m0, batch.m1, batch.mask), batch.beams)
            z = net.unit_outputs(f0, f1)
            log_var = net.log_variance(f0, f1).clamp(-14.0, 4.0)
            nll = 0.5 * ((z - target) ** 2 * torch.exp(-log_var) + log_var)
            per_term = torch.exp(beta * log_var).detach() * nll
            if weights is not None:
                per_term = per_term * weights[idx].to(device)
            loss = per_term.mean()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            steps += 1
            if average is not None and steps % average_every == 0:
                average.update_parameters(net)
            total += loss.item() * len(idx)
        scheduler.step()
        history.append(total / len(order))
        if progress is not None:
            progress(epoch, history[-1])
    if average is not None and int(average.n_averaged) > 0:
        net.load_state_dict(average.module.state_dict())
    net.eval()
    return history


def _repeat(features, t):
    """``(B, F)`` -> ``(t * B, F)``, the B rows repeated t times."""
    return features.unsqueeze(0).expand(t, *features.shape).reshape(-1, features.shape[-1])


@torch.no_grad()
def predict(net, data, *, mc_samples=100, device="cpu", batch_size=256, maps=True):
    """Monte-Carlo-dropout samples and mean-model maps for every galaxy in ``data``.

    The convolutional trunks run once per galaxy; only the dropout heads are
    sampled ``mc_samples`` times. With ``maps=False`` the mean model is not
    decoded: ``model0``, ``model1`` are None and ``amplitude``, ``offset`` and
    ``loss`` NaN (the refinement, which replaces them, needs only the samples).

    Returns
    -------
    list of dict
        Per galaxy: ``samples`` (name -> (T,) array), ``model0``, ``model1``
        (maps of the mean parameters with amplitude and offset applied),
        ``amplitude``, ``offset``, ``loss``, and for networks with aleatoric heads
        ``aleatoric`` (name -> 1-sigma in decoder units).
    """
    from galkin.loss import reconstruction_loss

    net.to(device).eval()
    out = []
    for start in range(0, len(data), batch_size):
        batch = data.index(slice(start, start + batch_size)).to(device)
        b = len(batch)
        f0, f1 = net.features(*net.inputs(batch.m0, batch.m1, batch.mask), batch.beams)
        t = max(1, int(mc_samples))
        sample = t > 1
        params = net.heads(_repeat(f0, t), _repeat(f1, t), sample=sample)
        params = {k: v.reshape(t, b) for k, v in params.items()}
        mean = {k: v.mean(0) for k, v in params.items()}
        if maps:
            model0, model1 = net.decode(mean, batch.beams)
            loss, amp, off = reconstruction_loss(
                batch.m0, batch.m1, batch.mask, model0, model1, moment0_scale=net.moment0_scale
            )
        else:
            loss = amp = off = torch.full((b,), float("nan"))
        aleatoric = None
        if net.aleatoric:
            half = torch.tensor([np.diff(net.space.bounds[k])[0] / 2 for k in net.space.names])
            sigma = torch.exp(0.5 * net.log_variance(f0, f1)).cpu() * half
            aleatoric = {
                k: sigma[:, i].numpy().astype(float) for i, k in enumerate(net.space.names)
            }
        for j in range(b):
            extra = (
                {}
                if aleatoric is None
                else {"aleatoric": {k: float(v[j]) for k, v in aleatoric.items()}}
            )
            out.append(
                dict(
                    **extra,
                    samples={k: v[:, j].cpu().numpy().astype(float) for k, v in params.items()},
                    model0=(amp[j] * model0[j]).cpu().numpy() if maps else None,
                    model1=(model1[j] + off[j]).cpu().numpy() if maps else None,
                    amplitude=float(amp[j]),
                    offset=float(off[j]),
                    loss=float(loss[j]),
                )
            )
    return out
