"""Train, calibrate and save galkin's pretrained ("blind") SAE.

    python scripts/train_sae_blind.py --cache /tmp/galkin_blind [--epochs 50] [--threads 2]
        [--train-sets NAME[:COUNT] ...] [--calibration-sets NAME[:COUNT] ...]

1. Simulates (or reuses, from ``--cache``) the galaxy sets of
   ``scripts/simulate_sae_sets.py``: 12,000 "survey" galaxies (thesis Table 3.2
   ranges widened, random position angles, beams, noise and masks) and 6000
   under the thesis's own test conditions -- a quarter of each from cubes of
   1,000,000 simulator particles instead of 200,000, so the network also sees
   maps with little shot noise -- and 4000 held-out galaxies for the error
   calibration. Every galaxy goes through galkin's own data path (particle cube
   -> moments and mask -> prepare).
2. Trains the two Table-3.1 encoders with log-variance heads on the known truths
   (`galkin_plugins.sae.training.train_supervised`), mirror-augmented.
3. Calibrates the errors on the held-out sets (2000 "survey", 2000
   thesis-condition galaxies): per parameter, a table of factors on the
   quadrature sum ``s`` of the MC-dropout spread (100 samples) and the predicted
   aleatoric scatter, over quantile bins of ``s`` and of the roughness (the
   noise) of the map the parameter's encoder reads, so that 68% of the truths
   fall inside at every error and noise level
   (`galkin_plugins.sae.calibration`). ``--calibrate-only`` redoes this step
   for existing weights; ``--resume`` continues training them.
4. Writes the state dict (float16) and metadata to
   ``src/galkin_plugins/weights/sae-blind.pt`` (or ``--output``).

The run is reproducible: the sets depend only on their seeds, training on ``--seed``.
The shipped weights came from these runs, each recorded in their metadata
("training" and its chain of "resumed_from"):

    python scripts/train_sae_blind.py --cache DIR --epochs 50 \
        --train-sets train-survey train-thesis
    python scripts/train_sae_blind.py --cache DIR --resume --epochs 8 --lr 1e-4 \
        --decay 0.8 --decay-every 1 --velocity-loss km/s --average-every 50 \
        --train-sets train-survey train-thesis
    python scripts/train_sae_blind.py --cache DIR --resume --epochs 10 --lr 3e-4 \
        --decay 0.8 --decay-every 1 --velocity-loss km/s
    python scripts/train_sae_blind.py --cache DIR --resume --epochs 8 --lr 1e-4 \
        --decay 0.8 --decay-every 1 --velocity-loss km/s --average-every 50
    python scripts/train_sae_blind.py --cache DIR --resume --epochs 12 --lr 2e-4 \
        --decay 0.85 --decay-every 1 --velocity-loss km/s
    python scripts/train_sae_blind.py --cache DIR --resume --epochs 8 --lr 1e-4 \
        --decay 0.8 --decay-every 1 --velocity-loss km/s --average-every 50

(about 45 minutes of training on 2 cores in all, after the sets are simulated in
about 30 minutes). Issue 11 part 3 then fine-tuned them on galaxies that take
galkin.fit's own path (no clip_percentile=96) mixed with domain-randomised ones
("randomised" conditions in galkin_plugins.sae.simulations), weighing the
thesis-condition sets up so that their accuracy holds, and recalibrated the errors
on held-out sets that include randomised galaxies. The sets were built with the
command in scripts/simulate_sae_sets.py (9000 galaxies, 52 minutes on a shared
2-core machine); the eight runs below took 34 minutes of training on one thread:

    MIX="train-survey:2000 train-thesis:1000 train-thesis-clean:500 \
        train-survey-clean:500 train-randomised:3000"
    CALIB="calibrate:500 calibrate-thesis:500 calibrate-thesis-clean:250 \
        calibrate-randomised:750"
    RUN="python scripts/train_sae_blind.py --cache DIR --resume --decay-every 1 \
        --velocity-loss km/s --train-sets $MIX --calibration-sets $CALIB \
        --threads 1 --workers 1"
    R=train-randomised=0.3
    OMP_NUM_THREADS=1 $RUN --epochs 8 --lr 1e-4 --decay 0.85 \
        --loss-weight $R train-thesis=2 train-thesis-clean=2
    OMP_NUM_THREADS=1 $RUN --epochs 8 --lr 5e-5 --decay 0.85 \
        --loss-weight $R train-thesis=3 train-thesis-clean=3
    OMP_NUM_THREADS=1 $RUN --epochs 10 --lr 5e-5 --decay 0.9 \
        --loss-weight $R train-thesis=4 train-thesis-clean=4
    OMP_NUM_THREADS=1 $RUN --epochs 4 --lr 2e-5 --decay 0.8 --average-every 50 \
        --loss-weight $R train-thesis=4 train-thesis-clean=4
    OMP_NUM_THREADS=1 $RUN --epochs 10 --lr 4e-5 --decay 0.9 \
        --loss-weight $R train-thesis=5 train-thesis-clean=5
    OMP_NUM_THREADS=1 $RUN --epochs 5 --lr 2e-5 --decay 0.8 --average-every 50 \
        --loss-weight $R train-thesis=5 train-thesis-clean=5
    OMP_NUM_THREADS=1 $RUN --epochs 10 --lr 3e-5 --decay 0.9 \
        --loss-weight $R train-thesis=5 train-thesis-clean=5 train-survey=2 train-survey-clean=2
    OMP_NUM_THREADS=1 $RUN --epochs 5 --lr 2e-5 --decay 0.8 --average-every 50 \
        --loss-weight $R train-thesis=5 train-thesis-clean=5 train-survey=2 train-survey-clean=2

(--loss-weight NAME=W weighs a set's galaxies in the loss. On a CPU shared with
other jobs use one thread: two threads ran 4x slower per epoch there.) Weighing
the sets equally, or stopping after the first two runs, halved the errors on
randomised galaxies too but cost thesis-condition accuracy (bench_blind ratios
1.1-2.0 for inclination, r_scale and V sin i); fine-tuning on the old conditions
alone with that calibration widened the thesis-condition intervals to 78-94%.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import simulate_sae_sets  # noqa: E402

from galkin.plugins import get_profile  # noqa: E402
from galkin.weights import save_weights  # noqa: E402
from galkin_plugins.sae.calibration import ErrorCalibration, roughness_columns  # noqa: E402
from galkin_plugins.sae.network import SAENetwork  # noqa: E402
from galkin_plugins.sae.pretrained import (  # noqa: E402
    ARCHITECTURE,
    BLIND_WEIGHTS,
    blind_network,
    prediction_arrays,
)
from galkin_plugins.sae.simulations import as_batch, truth_columns  # noqa: E402
from galkin_plugins.sae.training import TrainingConfig, predict, train_supervised  # noqa: E402

TRAIN_SETS = (
    "train-survey",
    "train-thesis",
    "train-thesis-clean",
    "train-survey-clean",
    "train-randomised",
)
#: Held-out sets for the error calibration: survey conditions (noise, estimated
#: position angles), the thesis's (noiseless, position angle known), the latter
#: with 200,000 and with 1,000,000 simulator particles (less shot noise), and the
#: randomised conditions (other discs, curves, noise, beams and masks).
CALIBRATION_SETS = (
    "calibrate",
    "calibrate-thesis",
    "calibrate-thesis-clean",
    "calibrate-randomised",
)
#: The position-angle error is calibrated on the galaxies whose angle was estimated.
PA_ESTIMATED_SETS = ("calibrate", "calibrate-randomised")
DROPOUT = 0.1
SCALE_HEIGHT = 1 / 64


def unit_targets(space, data):
    """``(N, P)`` truths of a set in output units, ``space.names`` order, inside (-1, 1)."""
    truth = truth_columns(data, space.names)
    cols = [space.to_unit(name, truth[:, k]) for k, name in enumerate(space.names)]
    return torch.tensor(np.clip(np.stack(cols, 1), -0.995, 0.995), dtype=torch.float32)


def new_network(intensity, velocity, beam_input=False):
    return SAENetwork(
        get_profile(intensity, "intensity")(),
        get_profile(velocity, "velocity")(),
        size=64,
        dropout=DROPOUT,
        scale_height=SCALE_HEIGHT,
        aleatoric=True,
        beam_input=beam_input,
    )


def train_network(args, train):
    """Train a new network on the sets; returns it and the training metadata."""
    torch.manual_seed(args.seed)
    net = new_network("exponential", "arctan", args.beam_input)
    targets = unit_targets(net.space, train)
    previous = None
    if args.resume:  # continue training the network in --output
        trained, previous = blind_network("exponential", "arctan", 64, path=args.output)
        net.load_state_dict(trained.state_dict())
    else:
        n0 = len(net.space.moment0_names)
        net.encoder0.set_output(targets[:, :n0].mean(0))
        net.encoder1.set_output(targets[:, n0:].mean(0))
    config = TrainingConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        decay=args.decay,
        decay_every=args.decay_every,
    )
    weights = None
    if args.velocity_loss == "km/s":  # the v_max term in km/s: x (v_scale / median v_scale)^2
        weights = torch.ones_like(targets)
        scale = torch.tensor(train["velocity_scale"], dtype=torch.float32)
        weights[:, net.space.names.index("v_max")] = (scale / scale.median()) ** 2
    set_weights = dict(args.loss_weight or [])
    if set_weights:  # a set's galaxies count this much in the loss
        weights = torch.ones_like(targets) if weights is None else weights
        factor = np.array([set_weights.get(name, 1.0) for name in train["set_name"]])
        weights *= torch.tensor(factor, dtype=torch.float32)[:, None]
    t1 = time.perf_counter()

    def report(epoch, loss):
        print(
            f"epoch {epoch + 1:3d}  loss {loss:+.4f}  {time.perf_counter() - t1:6.0f} s", flush=True
        )

    history = train_supervised(
        net,
        as_batch(train),
        targets,
        config,
        weights=weights,
        average_every=args.average_every,
        seed=args.seed,
        progress=report,
    )
    loss = "beta-NLL (beta=0.5) on output units, mirror augmentation"
    if weights is not None:
        loss += "; v_max term weighted by (v_scale / median)^2 (an error in km/s)"
    if args.average_every:
        loss += f"; ends on the weight average sampled every {args.average_every} steps"
    if set_weights:
        loss += f"; loss weights per set {set_weights}"
    training = {
        "config": config.as_dict(),
        "loss": loss,
        "seed": args.seed,
        "sets": simulate_sae_sets.describe(args.train_sets),
        "n_train": int(len(train["m0"])),
        "final_loss": float(history[-1]),
        "train_seconds": round(time.perf_counter() - t1, 1),
        "threads": args.threads,
        "script": "scripts/train_sae_blind.py",
    }
    if previous is not None:
        training["resumed_from"] = previous["training"]
    return net, training


def _predictions(net, data):
    names = net.space.names
    rows = predict(net, as_batch(data), mc_samples=100)
    mean, mc, ale = prediction_arrays(rows, names)
    truth = truth_columns(data, names)
    return mean - truth, mc, ale


def calibrate(net, parts):
    """Fit the error calibration on held-out galaxies and print what it does.

    ``parts`` maps set names to their galaxies.
    """
    names = net.space.names
    calib = {k: np.concatenate([p[k] for p in parts.values()]) for k in next(iter(parts.values()))}
    residual, mc, ale = _predictions(net, calib)
    roughness = roughness_columns(
        calib["m0"], calib["m1"], calib["mask"], names, net.space.moment0_names
    )
    estimated = np.concatenate(
        [
            np.full(len(p["m0"]), name.split(":")[0] in PA_ESTIMATED_SETS)
            for name, p in parts.items()
        ]
    )
    use = np.ones(residual.shape, bool)
    use[:, names.index("pa_offset")] = estimated
    calibration = ErrorCalibration.fit(residual, np.hypot(mc, ale), roughness, names, use=use)
    inside = np.abs(residual) <= calibration.sigma(mc, ale, roughness)
    offsets = np.cumsum([0] + [len(p["m0"]) for p in parts.values()])
    for k, name in enumerate(names):
        per_set = ", ".join(
            f"{set_name} {inside[a:b, k].mean():.3f}"
            for set_name, a, b in zip(parts, offsets[:-1], offsets[1:], strict=True)
        )
        print(
            f"calibration {name:12s} rms {np.sqrt(np.mean(residual[:, k] ** 2)):.4f}  "
            f"coverage {inside[use[:, k], k].mean():.3f} ({per_set})  "
            f"raw-MC {np.mean(np.abs(residual[:, k]) <= mc[:, k]):.2f}"
        )
    return calibration.to_metadata() | {
        "mc_samples": 100,
        "sets": simulate_sae_sets.describe(parts),
        "position_angle_sets": [
            p for p in PA_ESTIMATED_SETS if p in [n.split(":")[0] for n in parts]
        ],
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", required=True, help="directory for the simulated sets")
    parser.add_argument("--output", default=str(BLIND_WEIGHTS))
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--decay", type=float, default=0.9)
    parser.add_argument("--decay-every", type=int, default=2, help="epochs per lr decay")
    parser.add_argument(
        "--beam-input",
        action="store_true",
        help="tell the encoders the beam (SAENetwork(beam_input=True)); pass it again to --resume",
    )
    parser.add_argument(
        "--velocity-loss",
        choices=("normalised", "km/s"),
        default="normalised",
        help="measure the v_max error in units of each galaxy's v_scale, or in km/s",
    )
    parser.add_argument(
        "--average-every",
        type=int,
        default=None,
        help="end on the average of the weights sampled every N steps (a final phase)",
    )
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2, help="processes for simulating")
    parser.add_argument(
        "--train-sets", nargs="+", default=list(TRAIN_SETS), help="NAME or NAME:COUNT (first COUNT)"
    )
    parser.add_argument(
        "--calibration-sets",
        nargs="+",
        default=list(CALIBRATION_SETS),
        help="held-out sets for the error calibration, NAME or NAME:COUNT",
    )
    parser.add_argument(
        "--loss-weight",
        nargs="+",
        type=lambda text: (text.split("=")[0], float(text.split("=")[1])),
        help="NAME=W: weigh the galaxies of training set NAME by W in the loss (default 1)",
    )
    parser.add_argument(
        "--calibrate-only", action="store_true", help="recalibrate the weights in --output"
    )
    parser.add_argument(
        "--resume", action="store_true", help="continue training the weights in --output"
    )
    parser.add_argument(
        "--limit", type=int, help="use only this many training galaxies (smoke runs)"
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    t0 = time.perf_counter()
    calibration_sets = tuple(args.calibration_sets)
    sets = calibration_sets + (() if args.calibrate_only else tuple(args.train_sets))
    simulate_sae_sets.build(args.cache, sets, args.workers)
    parts = {spec: simulate_sae_sets.load(args.cache, (spec,)) for spec in calibration_sets}
    if args.calibrate_only:
        trained, metadata = blind_network("exponential", "arctan", 64, path=args.output)
        net = new_network("exponential", "arctan", trained.beam_input)
        net.load_state_dict(trained.state_dict())
        training = metadata["training"]
    else:
        pieces = [simulate_sae_sets.load(args.cache, (spec,)) for spec in args.train_sets]
        train = {k: np.concatenate([p[k] for p in pieces]) for k in pieces[0]}
        train["set_name"] = np.concatenate(
            [
                np.full(len(p["m0"]), spec.split(":")[0])
                for p, spec in zip(pieces, args.train_sets, strict=True)
            ]
        )
        if args.limit:
            train = {k: v[: args.limit] for k, v in train.items()}
        n_calib = sum(len(p["m0"]) for p in parts.values())
        print(f"sets: {len(train['m0'])} training, {n_calib} calibration galaxies")
        net, training = train_network(args, train)
    metadata = {
        "architecture": ARCHITECTURE,
        "intensity": "exponential",
        "velocity": "arctan",
        "size": 64,
        "dropout": DROPOUT,
        "scale_height": SCALE_HEIGHT,
        "beam_input": bool(net.beam_input),
        "parameters": list(net.space.names),
        "bounds": {k: list(map(float, net.space.bounds[k])) for k in net.space.names},
        "calibration": calibrate(net, parts),
        "training": training,
    }
    save_weights(net.state_dict(), metadata, args.output, dtype=torch.float16)
    size_kb = Path(args.output).stat().st_size / 1024
    print(f"wrote {args.output} ({size_kb:.0f} KB) in {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
