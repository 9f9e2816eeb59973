"""One galaxy through the referee (cube -> galkin -> 3D-Barolo), and many in parallel."""

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from .conditions import SETS, draw_galaxy
from .cubes import cube_for
from .run_barolo import barolo_for
from .run_galkin import run_galkin

__all__ = ["Job", "evaluate", "evaluate_all"]


@dataclass(frozen=True)
class Job:
    """What to do for galaxy ``index`` of set ``set_name``."""

    set_name: str
    index: int
    seed: int
    cache_dir: Path
    galkin_options: dict = field(default_factory=dict)
    galkin: bool = True
    barolo: bool = True
    barolo_errors: bool = False
    noise: str = None  # "white" or "beam" overrides the set's noise kind
    simulator: str = "kinms"  # or "galmod": 3D-Barolo's ring model makes the cube


def evaluate(job):
    """Make (or read) the cube and run the tools on it.

    Returns
    -------
    dict
        ``truth``, ``path`` (the FITS file), ``cube_s`` (seconds to make or read
        it), and ``galkin`` / ``barolo`` results (None when not run).
    """
    start = time.perf_counter()
    spec = draw_galaxy(SETS[job.set_name], job.index, job.seed)
    if job.noise is not None:  # a different cube (and cache key); the same galaxy
        spec["noise"] = job.noise
    if job.simulator != "kinms":  # the same galaxy from another forward model (own cache key)
        spec["simulator"] = job.simulator
    path, truth = cube_for(spec, job.cache_dir)
    record = {"truth": truth, "path": str(path), "cube_s": time.perf_counter() - start}
    record["galkin"] = run_galkin(path, truth, job.galkin_options) if job.galkin else None
    record["barolo"] = barolo_for(path, truth, errors=job.barolo_errors) if job.barolo else None
    return record


def _init_worker():
    """One thread per worker process (the machine is shared)."""
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass


def _progress(k, n, record):
    parts = [f"[{k}/{n}] {record['truth']['name']}"]
    for tool in ("galkin", "barolo"):
        r = record.get(tool)
        if r is not None:
            state = "ok" if r.get("ok") else "FAILED"
            cached = " cached" if r.get("cached") else ""
            parts.append(f"{tool} {state} {r.get('runtime_s') or 0:.1f}s{cached}")
    print(", ".join(parts), file=sys.stderr, flush=True)


def evaluate_all(jobs, *, workers=1):
    """:func:`evaluate` every job, in ``workers`` processes; records in the jobs' order."""
    _init_worker()
    if workers <= 1:
        records = []
        for k, job in enumerate(jobs, 1):
            records.append(evaluate(job))
            _progress(k, len(jobs), records[-1])
        return records
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from multiprocessing import get_context

    records = [None] * len(jobs)
    with ProcessPoolExecutor(workers, get_context("spawn"), initializer=_init_worker) as pool:
        futures = {pool.submit(evaluate, job): k for k, job in enumerate(jobs)}
        for done, future in enumerate(as_completed(futures), 1):
            records[futures[future]] = future.result()
            _progress(done, len(jobs), records[futures[future]])
    return records
