"""Build (and cache) the simulated galaxy sets of the blind SAE, in shards.

    python scripts/simulate_sae_sets.py --cache DIR [--workers 2]

Writes ``DIR/<name>-<start>.npz`` shards for each set in SETS; existing shards are
kept, so an interrupted run resumes. Galaxy k of a set depends only on (seed, k).
"""

import argparse
import time
from pathlib import Path

import numpy as np

from galkin_plugins.sae.simulations import simulate_set

#: name -> (conditions, seed, number of galaxies, simulator particles). The
#: particle count sets the shot noise of "noiseless" cubes: the "-clean" sets use
#: galkin.simulate_cube's own 1,000,000 so the network also sees maps cleaner than
#: the cheap 200,000-particle ones (and does not learn their noise texture).
SETS = {
    "train-survey": ("survey", 101, 9000, 200_000),
    "train-thesis": ("thesis", 102, 3000, 200_000),
    "train-thesis-clean": ("thesis", 103, 3000, 1_000_000),
    "train-survey-clean": ("survey", 104, 3000, 1_000_000),
    "calibrate": ("survey", 201, 2000, 200_000),
    "calibrate-thesis": ("thesis", 202, 1000, 200_000),
    "calibrate-thesis-clean": ("thesis", 203, 1000, 1_000_000),
}
SHARD = 500


def shard_paths(cache, name):
    conditions, seed, n, _ = SETS[name]
    return [Path(cache) / f"{name}-{start:06d}.npz" for start in range(0, n, SHARD)]


def build(cache, names, workers):
    Path(cache).mkdir(parents=True, exist_ok=True)
    for name in names:
        conditions, seed, n, particles = SETS[name]
        for start, path in zip(range(0, n, SHARD), shard_paths(cache, name), strict=True):
            if path.exists():
                continue
            t0 = time.perf_counter()
            data = simulate_set(
                min(SHARD, n - start),
                seed=seed,
                conditions=conditions,
                workers=workers,
                start=start,
                n_particles=particles,
            )
            np.savez(path.with_suffix(".tmp.npz"), **data)
            path.with_suffix(".tmp.npz").rename(path)
            print(
                f"{path.name}: {len(data['m0'])} galaxies in {time.perf_counter() - t0:.0f} s",
                flush=True,
            )


def load(cache, names):
    """Concatenate the shards of ``names`` into one dict of arrays."""
    parts = [dict(np.load(p)) for name in names for p in shard_paths(cache, name)]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--sets", nargs="*", default=list(SETS))
    args = parser.parse_args()
    build(args.cache, args.sets, args.workers)
