"""Build (and cache) the simulated galaxy sets of the blind SAE, in shards.

    python scripts/simulate_sae_sets.py --cache DIR [--workers 2] [--sets NAME[:COUNT] ...]

Writes ``DIR/<name>-<start>.npz`` shards of SHARD galaxies for each set in SETS;
existing shards are kept, so an interrupted run resumes. Galaxy k of a set
depends only on (seed, k), so ``NAME:COUNT`` builds (and later loads) the first
COUNT galaxies of a set, rounded up to whole shards. Shards are built round-robin
over the sets named, so a run cut short still holds a bit of each.

The sets behind the current weights (see scripts/train_sae_blind.py) were built with

    OMP_NUM_THREADS=1 nohup python scripts/simulate_sae_sets.py --cache /work/cache/domain/sets \
        --workers 2 --sets calibrate-randomised:750 calibrate:500 calibrate-thesis:500 \
        calibrate-thesis-clean:250 train-randomised:3000 train-survey:2000 \
        train-thesis:1000 train-thesis-clean:500 train-survey-clean:500
"""

import argparse
import itertools
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
    "train-randomised": ("randomised", 105, 9000, 200_000),
    "calibrate": ("survey", 201, 2000, 200_000),
    "calibrate-thesis": ("thesis", 202, 1000, 200_000),
    "calibrate-thesis-clean": ("thesis", 203, 1000, 1_000_000),
    "calibrate-randomised": ("randomised", 204, 1500, 200_000),
}
SHARD = 250


def parse(spec):
    """``"name"`` or ``"name:count"`` -> (name, count), count <= the set's size."""
    name, _, count = spec.partition(":")
    if name not in SETS:
        raise SystemExit(f"unknown set {name!r}; choose from {sorted(SETS)}")
    size = SETS[name][2]
    return name, min(int(count), size) if count else size


def shard_paths(cache, spec):
    name, n = parse(spec)
    return [Path(cache) / f"{name}-{start:06d}.npz" for start in range(0, n, SHARD)]


def _build_shard(cache, name, start, workers):
    conditions, seed, n, particles = SETS[name]
    path = Path(cache) / f"{name}-{start:06d}.npz"
    if path.exists():
        return
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
        f"{path.name}: {len(data['m0'])} galaxies in {time.perf_counter() - t0:.0f} s", flush=True
    )


def build(cache, specs, workers):
    """Build the shards of ``specs`` (``"name[:count]"``), round-robin over the sets."""
    Path(cache).mkdir(parents=True, exist_ok=True)
    queues = [[(name, start) for start in range(0, n, SHARD)] for name, n in map(parse, specs)]
    for row in itertools.zip_longest(*queues):
        for job in row:
            if job is not None:
                _build_shard(cache, *job, workers)


def load(cache, specs):
    """Concatenate the shards of ``specs`` (``"name[:count]"``) into one dict of arrays."""
    parts = [dict(np.load(p)) for spec in specs for p in shard_paths(cache, spec)]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def describe(specs):
    """``{name: [conditions, seed, galaxies used, particles]}`` for a weights file's metadata."""
    out = {}
    for name, n in map(parse, specs):
        conditions, seed, _, particles = SETS[name]
        out[name] = [conditions, seed, min(-(-n // SHARD) * SHARD, SETS[name][2]), particles]
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--sets", nargs="*", default=list(SETS))
    args = parser.parse_args()
    build(args.cache, args.sets, args.workers)
