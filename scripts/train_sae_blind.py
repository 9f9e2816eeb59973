"""Train, calibrate and save galkin's pretrained ("blind") SAE.

    python scripts/train_sae_blind.py --cache /tmp/galkin_blind [--epochs 40] [--threads 2]

1. Simulates (or reuses, from ``--cache``) the galaxy sets of
   ``scripts/simulate_sae_sets.py``: 14000 "survey" galaxies (thesis Table 3.2
   ranges widened, random position angles, beams, noise and masks), 3000 under the
   thesis's own test conditions, and 2000 held-out "survey" galaxies for the error
   calibration. Every galaxy goes through galkin's own data path (particle cube ->
   moments and mask -> prepare).
2. Trains the two Table-3.1 encoders with log-variance heads on the known truths
   (`galkin_plugins.sae.training.train_supervised`), mirror-augmented.
3. Calibrates the errors on the held-out set: one factor per parameter so that the
   quadrature sum of the MC-dropout spread (100 samples) and the predicted
   aleatoric scatter covers 68% of the truths.
4. Writes the state dict (float16) and metadata to
   ``src/galkin_plugins/weights/sae-blind.pt`` (or ``--output``).

The run is reproducible: the sets depend only on their seeds, training on ``--seed``.
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
from galkin_plugins.sae.network import SAENetwork  # noqa: E402
from galkin_plugins.sae.pretrained import (  # noqa: E402
    ARCHITECTURE,
    BLIND_WEIGHTS,
    coverage_factors,
)
from galkin_plugins.sae.simulations import TRUTH_NAMES  # noqa: E402
from galkin_plugins.sae.training import MapBatch, TrainingConfig, predict, train_supervised  # noqa: E402

TRAIN_SETS = ("train-survey", "train-thesis")
CALIBRATION_SET = ("calibrate",)
DROPOUT = 0.1
SCALE_HEIGHT = 1 / 64


def as_batch(data):
    return MapBatch(
        m0=torch.tensor(data["m0"].astype(np.float32)),
        m1=torch.tensor(data["m1"].astype(np.float32)),
        mask=torch.tensor(data["mask"].astype(np.float32)),
        beams=torch.tensor(data["beam"], dtype=torch.float32),
    )


def unit_targets(space, truth):
    """``(N, P)`` truths in output units, ``space.names`` order, inside (-1, 1)."""
    cols = [space.to_unit(name, truth[:, TRUTH_NAMES.index(name)]) for name in space.names]
    return torch.tensor(np.clip(np.stack(cols, 1), -0.995, 0.995), dtype=torch.float32)


def predictions(net, data, mc_samples):
    """Mean, MC spread and aleatoric sigma (decoder units, ``(N, P)``) of ``data``."""
    rows = predict(net, as_batch(data), mc_samples=mc_samples)
    names = net.space.names
    mean = np.array([[r["samples"][k].mean() for k in names] for r in rows])
    mc = np.array([[r["samples"][k].std() for k in names] for r in rows])
    ale = np.array([[r["aleatoric"][k] for k in names] for r in rows])
    return mean, mc, ale


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", required=True, help="directory for the simulated sets")
    parser.add_argument("--output", default=str(BLIND_WEIGHTS))
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--decay", type=float, default=0.9)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2, help="processes for simulating")
    parser.add_argument("--train-sets", nargs="+", default=list(TRAIN_SETS))
    parser.add_argument("--calibration-set", default=CALIBRATION_SET[0])
    parser.add_argument(
        "--limit", type=int, help="use only this many training galaxies (smoke runs)"
    )
    args = parser.parse_args(argv)
    train_sets = tuple(args.train_sets)
    calibration_set = (args.calibration_set,)
    torch.set_num_threads(args.threads)

    t0 = time.perf_counter()
    simulate_sae_sets.build(args.cache, train_sets + calibration_set, args.workers)
    train = simulate_sae_sets.load(args.cache, train_sets)
    if args.limit:
        train = {k: v[: args.limit] for k, v in train.items()}
    calib = simulate_sae_sets.load(args.cache, calibration_set)
    print(
        f"sets: {len(train['m0'])} training, {len(calib['m0'])} calibration galaxies "
        f"({time.perf_counter() - t0:.0f} s)",
        flush=True,
    )

    intensity, velocity = "exponential", "arctan"
    torch.manual_seed(args.seed)
    net = SAENetwork(
        get_profile(intensity, "intensity")(),
        get_profile(velocity, "velocity")(),
        size=64,
        dropout=DROPOUT,
        scale_height=SCALE_HEIGHT,
        aleatoric=True,
    )
    space = net.space
    targets = unit_targets(space, train["truth"])
    n0 = len(space.moment0_names)
    net.encoder0.set_output(targets[:, :n0].mean(0))
    net.encoder1.set_output(targets[:, n0:].mean(0))

    config = TrainingConfig(
        epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, decay=args.decay, decay_every=2
    )
    t1 = time.perf_counter()

    def report(epoch, loss):
        print(
            f"epoch {epoch + 1:3d}  loss {loss:+.4f}  {time.perf_counter() - t1:6.0f} s", flush=True
        )

    history = train_supervised(
        net, as_batch(train), targets, config, seed=args.seed, progress=report
    )
    train_time = time.perf_counter() - t1

    mean, mc, ale = predictions(net, calib, mc_samples=100)
    truth = np.stack([calib["truth"][:, TRUTH_NAMES.index(k)] for k in space.names], 1)
    factors = coverage_factors(mean - truth, np.hypot(mc, ale))
    rms = np.sqrt(np.mean((mean - truth) ** 2, 0))
    for k, name in enumerate(space.names):
        print(
            f"calibration {name:12s} rms {rms[k]:.4f}  factor {factors[k]:.3f}  "
            f"raw-MC coverage {np.mean(np.abs(mean - truth)[:, k] < mc[:, k]):.2f}"
        )

    metadata = {
        "architecture": ARCHITECTURE,
        "intensity": intensity,
        "velocity": velocity,
        "size": 64,
        "dropout": DROPOUT,
        "scale_height": SCALE_HEIGHT,
        "parameters": list(space.names),
        "bounds": {k: list(map(float, space.bounds[k])) for k in space.names},
        "calibration": {
            "factors": dict(zip(space.names, map(float, factors), strict=True)),
            "level": 0.68,
            "mc_samples": 100,
            "set": args.calibration_set,
        },
        "training": {
            "config": config.as_dict(),
            "loss": "beta-NLL (beta=0.5) on output units, mirror augmentation",
            "seed": args.seed,
            "sets": {k: list(simulate_sae_sets.SETS[k]) for k in train_sets + calibration_set},
            "n_train": int(len(train["m0"])),
            "final_loss": float(history[-1]),
            "train_seconds": round(train_time, 1),
            "threads": args.threads,
            "script": "scripts/train_sae_blind.py",
        },
    }
    save_weights(net.state_dict(), metadata, args.output, dtype=torch.float16)
    size_kb = Path(args.output).stat().st_size / 1024
    print(
        f"wrote {args.output} ({size_kb:.0f} KB); training {train_time:.0f} s, "
        f"total {time.perf_counter() - t0:.0f} s"
    )


if __name__ == "__main__":
    main()
