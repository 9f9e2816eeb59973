"""`galkin.fit_many`: fit a survey, one row per galaxy, never losing the good ones.

A fit is two steps (:mod:`galkin.fitting`): preparing a galaxy's maps --
reading the file, the moments of a cube, preprocessing -- and the model, run on
batches of ``batch_size`` prepared galaxies (blind mode; in solo and combined
modes, which train on their targets, one galaxy at a time).  In a pool of
``workers`` processes each worker prepares and fits whole batches (with the
model on a GPU the workers only prepare and the batches are fitted here).  Rows
come back in the order of the items.

A file that cannot be read, a galaxy that fails a survey cut
(`~galkin.exceptions.RejectedGalaxy`), or any other error is a row with
``status`` "failed" or "rejected" and the reason in ``error``; a worker process
that dies is replaced, and the galaxies it may have held are prepared again one
at a time, until the one that kills its worker is found and reported.  With
``checkpoint=PATH`` every finished row is appended to PATH as it comes
(:mod:`galkin.checkpoint`), and a second call fits only what is missing.  With
a `dask.distributed.Client` each task prepares and fits one batch on a worker;
dask recomputes the tasks of a worker that dies.
"""

import collections
import inspect
import os
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_all_start_methods, get_context
from pathlib import Path

from .checkpoint import Checkpoint, decode_row, encode_row
from .exceptions import GalkinError, GalkinWarning
from .io.files import galaxy_name
from .model import resolve_device
from .survey_table import curve_table, failure_row, result_row, survey_table

__all__ = ["fit_many", "DEFAULT_BATCH_SIZE"]

#: Most galaxies per batch through the model: enough for the refinement's batched
#: decoder passes, few enough that the pool's workers finish close together (the
#: 1834-galaxy mock survey on two workers: 51 s with 32, 54 s with 64).
DEFAULT_BATCH_SIZE = 32
#: Times a galaxy may kill the worker preparing it alone before it is reported failed.
MAX_ATTEMPTS = 2


def _default_name(item, index):
    if isinstance(item, (str, Path)):
        return galaxy_name(item)
    return getattr(item, "name", None) or f"galaxy_{index}"


def _keys(items, names):
    """The checkpoint key of each item: its path, or its name and position."""
    keys = [
        str(Path(item).expanduser().resolve()) if isinstance(item, (str, Path)) else f"{n}#{i}"
        for i, (item, n) in enumerate(zip(items, names, strict=True))
    ]
    seen = collections.Counter(keys)
    return [f"{key}#{i}" if seen[key] > 1 else key for i, key in enumerate(keys)]


#: The model-step option that asks every fitted row for its rotation curve.
_CURVES = "rotation_curves"


def _split_options(fit_kwargs):
    """``fit_kwargs`` as (options of the preparation step, options of the model step)."""
    from .fitting import fit_prepared, prepare_maps

    prepare = set(inspect.signature(prepare_maps).parameters) - {"data"}
    model = set(inspect.signature(fit_prepared).parameters) - {"targets", "others", "runtimes"}
    unknown = set(fit_kwargs) - prepare - model
    if unknown:
        raise GalkinError(
            f"fit_many got unknown option(s) {sorted(unknown)}; it takes those of galkin.fit: "
            f"{sorted(prepare | model)}."
        )
    return (
        {k: v for k, v in fit_kwargs.items() if k in prepare},
        {k: v for k, v in fit_kwargs.items() if k in model},
    )


def _prepare(index, item, name, options):
    """Step one for one galaxy: ``(index, prepared maps or None, seconds or failure row)``."""
    from .fitting import prepare_maps

    t0 = time.perf_counter()
    try:
        prepared = prepare_maps(item, **options)
    except Exception as exc:  # a survey run must not die on one galaxy
        return index, None, failure_row(name, exc)
    return index, prepared, time.perf_counter() - t0


def _fit_batch(prepared, names, options):
    """Step two for a batch: ``[(index, row)]``; a batch that fails is fitted one by one."""
    from .fitting import fit_prepared

    indices = [index for index, _, _ in prepared]
    fit_options = {k: v for k, v in options.items() if k != _CURVES}
    try:
        results = fit_prepared(
            [p for _, p, _ in prepared], runtimes=[t for _, _, t in prepared], **fit_options
        )
    except Exception as exc:
        if len(prepared) == 1:
            return [(indices[0], failure_row(names[indices[0]], exc))]
        return [row for one in prepared for row in _fit_batch([one], names, options)]
    curve = bool(options.get(_CURVES, False))
    return [
        (i, result_row(r, names[i], rotation_curve=curve))
        for i, r in zip(indices, results, strict=True)
    ]


def _batches(todo, size):
    """``todo`` in consecutive batches of at most ``size``, as equal as can be (200
    galaxies in batches of 64 are four of 50, so that workers finish together)."""
    count = -(-len(todo) // size)
    edges = [round(k * len(todo) / count) for k in range(count + 1)]
    for start, stop in zip(edges[:-1], edges[1:], strict=True):
        yield todo[start:stop]


def _in_process(items, names, todo, prepare_options, model_options, batch_size):
    for batch in _batches(todo, batch_size):
        outcomes = [_prepare(i, items[i], names[i], prepare_options) for i in batch]
        yield _rows(outcomes, names, model_options)


def _rows(outcomes, names, model_options):
    """``[(index, row)]`` of a batch of ``_prepare`` outcomes: failures as they are, the
    rest fitted together."""
    ready = [o for o in outcomes if o[1] is not None]
    rows = [(i, row) for i, prepared, row in outcomes if prepared is None]
    if ready:
        rows += _fit_batch(ready, names, model_options)
    return sorted(rows, key=lambda pair: pair[0])


def _in_pool(items, names, todo, prepare_options, model_options, batch_size, workers):
    """Prepare -- and on the CPU fit -- in a process pool, keeping every worker busy.

    On the CPU each task prepares and fits one batch in a worker (one thread
    each: the model's work dominates a fit, and a pool of single-threaded
    workers uses the cores better than one process's threads); with the model
    on another device the workers only prepare, ``workers * 4`` galaxies ahead,
    and the batches are fitted here. On the CPU the batches are those of
    `_batches`, as in one process, so the rows do not depend on ``workers``.
    When a worker dies (a reader crashing the process), the galaxies it may have
    been holding are taken again one at a time, so that the one that kills its
    process is found, reported failed, and the others are fitted.
    """
    # a worker forked from a process that has used CUDA cannot use it: with the
    # model on a GPU (the default where there is one) the workers only prepare
    fit_here = resolve_device(model_options.get("device")) != "cpu"
    size = 1 if fit_here else batch_size
    window = max(batch_size, 4 * workers) if fit_here else 2 * workers
    attempts = collections.Counter()
    queue, suspects = collections.deque(_batches(todo, size)), collections.deque()
    context = _context()
    pool = _pool(workers, context)
    pending = collections.deque()
    outcomes, started = [], False
    task = (prepare_options, model_options, not fit_here)
    try:
        while queue or suspects or pending:
            if pool is None:  # no worker could start: prepare here
                for i in queue.popleft():
                    outcomes.append(_prepare(i, items[i], names[i], prepare_options))
            else:
                if suspects and not pending:  # one at a time until the culprit is found
                    chunk = [suspects.popleft()]
                    pending.append((chunk, _submit(pool, _chunk(items, names, chunk), *task)))
                while not suspects and queue and len(pending) < window:
                    chunk = queue.popleft()
                    pending.append((chunk, _submit(pool, _chunk(items, names, chunk), *task)))
                chunk, future = pending.popleft()
                try:
                    done = future.result()
                    started = True
                except BrokenProcessPool:  # a worker died
                    pool.shutdown(cancel_futures=True)
                    lost = chunk + [j for c, _ in pending for j in c]
                    pending.clear()
                    # spawned workers that die before any result could not import the main
                    # module (a script without a __main__ guard): prepare here instead
                    if not started and context.get_start_method() != "fork":
                        pool = _no_pool()
                        queue.extendleft([[j] for j in reversed(lost + list(suspects))])
                        suspects.clear()
                        continue
                    pool = _pool(workers, context)
                    if len(lost) > 1:
                        suspects.extendleft(reversed(lost))
                        continue
                    i = lost[0]
                    attempts[i] += 1  # it was alone in the pool: it killed its worker
                    if attempts[i] < MAX_ATTEMPTS:
                        suspects.appendleft(i)
                        continue
                    what = "preparing" if fit_here else "preparing and fitting"
                    error = RuntimeError(f"the process {what} it died ({attempts[i]} times)")
                    row = failure_row(names[i], error)
                    done = [(i, None, row)] if fit_here else [(i, row)]
                if fit_here:
                    outcomes.extend(done)
                else:  # the worker fitted them
                    yield done
            if outcomes and (len(outcomes) >= batch_size or not (queue or suspects or pending)):
                yield _rows(outcomes, names, model_options)
                outcomes = []
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)


def _chunk(items, names, indices):
    return [(i, items[i], names[i]) for i in indices]


def _pool_task(chunk, prepare_options, model_options, fit):
    """One pool task: prepare a chunk ``[(index, item, name)]`` of galaxies and, with
    ``fit``, fit them as one batch (returning rows, else the ``_prepare`` outcomes)."""
    outcomes = [_prepare(i, item, name, prepare_options) for i, item, name in chunk]
    if not fit:
        return outcomes
    return _rows(outcomes, {i: name for i, _, name in chunk}, model_options)


def _context():
    """The pool's start method: the platform's -- fork on Linux (workers start at once,
    with galkin already imported), spawn elsewhere (workers import the main module) --
    except in a process that has used CUDA. A child forked from one can run neither
    CUDA nor autograd ("Unable to handle autograd's threading in combination with
    fork-based multiprocessing"): every CPU fit in it would fail, so its workers start
    from a fresh interpreter (forkserver, else spawn)."""
    import torch

    context = get_context()
    if context.get_start_method() == "fork" and torch.cuda.is_initialized():
        return get_context("forkserver" if "forkserver" in get_all_start_methods() else "spawn")
    return context


def _pool(workers, context):
    """A pool of ``workers`` processes started by ``context``; each runs torch on one thread."""
    return ProcessPoolExecutor(workers, mp_context=context, initializer=_one_thread)


def _one_thread():
    """Set up a worker: torch on one thread, and (glibc) memory kept for reuse.

    The model allocates and frees arrays of tens of MB at every decoder pass;
    glibc hands such blocks back to the system and takes them again, page by
    zeroed page, which cost a third of the workers' CPU time on the mock survey.
    The workers are galkin's own processes, so their allocator keeps what it freed.
    """
    import torch

    torch.set_num_threads(1)
    _keep_freed_memory()


def _keep_freed_memory():
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    libc = None if name is None else ctypes.CDLL(name)
    if libc is None or not hasattr(libc, "mallopt"):
        return  # not glibc
    mallopt = libc.mallopt
    mallopt(-1, 2**31 - 1)  # M_TRIM_THRESHOLD: never trim the heap
    mallopt(-3, 32 * 2**20)  # M_MMAP_THRESHOLD: its largest value (blocks below: heap)


def _submit(pool, *args):
    with warnings.catch_warnings():  # the pool forks its workers on the first submissions
        # Python >= 3.12 warns that forking a process with threads (torch's) may deadlock;
        # the workers start afresh in torch (one thread, no shared thread pool).
        warnings.filterwarnings("ignore", "This process .* is multi-threaded", DeprecationWarning)
        return pool.submit(_pool_task, *args)


def _no_pool():
    warnings.warn(
        "fit_many could not start its worker processes, so it prepares the galaxies in "
        'this process. In a script, call it under `if __name__ == "__main__":` (worker '
        "processes import the main module), or call galkin.fit_many(items, workers=1).",
        GalkinWarning,
        stacklevel=4,
    )


def _dask_task(batch, options):
    """One dask task: prepare and fit a batch ``[(index, item, name)]`` on a worker.

    The rows travel as plain JSON types: dask's serialisers turn Quantity scalars
    into bare arrays, and the units must survive the trip.
    """
    rows = _pool_task(batch, *options, fit=True)
    return [(i, encode_row(row)) for i, row in rows]


def _on_dask(client, items, names, todo, prepare_options, model_options, batch_size):
    from distributed import as_completed

    batches = [[(i, items[i], names[i]) for i in batch] for batch in _batches(todo, batch_size)]
    options = (prepare_options, model_options)
    futures = client.map(_dask_task, batches, [options] * len(batches), pure=False)
    for future in as_completed(futures):
        yield [(i, decode_row(row)) for i, row in future.result()]


def fit_many(
    items,
    *,
    names=None,
    mode="blind",
    mc_samples=100,
    workers=None,
    batch_size=DEFAULT_BATCH_SIZE,
    checkpoint=None,
    client=None,
    progress=True,
    rotation_curves=False,
    **fit_kwargs,
):
    """Fit many galaxies; return one table row per item, in order.

    Parameters
    ----------
    items : sequence
        Cubes, `~galkin.KinematicMaps` or FITS file paths (mixed is fine).
    names : sequence of str, optional
        Row names; default the file name, the object's name, or ``galaxy_<i>``.
    mode : str, optional
        Fitting mode passed to :func:`galkin.fit` (default the pretrained ``"blind"``).
    mc_samples : int, optional
        Monte-Carlo dropout samples per galaxy.
    workers : int, optional
        Processes preparing and fitting the batches, one thread each (with the
        model on a GPU, ``device="cuda"``, they only prepare: reading, moments,
        preprocessing); default every core.  1 does everything in this process.
    batch_size : int, optional
        Most galaxies per batch through the model (blind mode); the batches are
        as equal as can be, and the same for any ``workers``.
    checkpoint : str or `pathlib.Path`, optional
        Append every finished row to this file; a second call with the same file
        and items fits only the galaxies missing from it (see :mod:`galkin.checkpoint`).
    client : `dask.distributed.Client`, optional
        Prepare and fit the batches on this cluster's workers instead.
    progress : bool, optional
        Show a progress bar (tqdm).
    rotation_curves : bool, optional
        Also return every fitted galaxy's rotation curve
        (`FitResult.rotation_curve <galkin.result.FitResult.rotation_curve>`: its
        rings for ``velocity="rings"``, else the model at the rings laid out for
        the galaxy), stacked in one long table
        (:func:`galkin.survey_table.curve_table`); they are checkpointed with
        their rows.
    **fit_kwargs
        Passed to :func:`galkin.fit` (e.g. ``beam=``, ``seed=``, ``device=``).

    Returns
    -------
    `~astropy.table.QTable`
        ``name``, ``status`` ("ok", "failed" or "rejected"), ``error`` (the reason),
        the fitted parameters with errors and units (NaN for failed rows), ``loss``,
        ``v_scale``, ``r_max``, ``dispersion_profile``, and the flags
        ``flag_low_inclination``, ``flag_unresolved`` and ``flag_poor_fit`` (loss
        normalised by V_max above the sample's mean + 1 sigma).
    curves : `~astropy.table.QTable`
        Only with ``rotation_curves=True`` (then the two tables are returned as a
        tuple): ``name``, ``ring``, ``radius``, ``v_rot``, ``v_rot_err``,
        ``surface_density(_err)``, ``dispersion``, ``fitted_rings``, one row per
        galaxy and ring, galaxies in input order.

    Examples
    --------
    >>> import galkin
    >>> table = galkin.fit_many(["a.fits", "b.fits"], checkpoint="run.jsonl")  # doctest: +SKIP
    >>> table["name", "status", "inclination", "v_max"]  # doctest: +SKIP
    """
    items = list(items)
    if not items:
        raise GalkinError("fit_many needs at least one item.")
    if names is None:
        names = [_default_name(item, i) for i, item in enumerate(items)]
    elif len(names) != len(items):
        raise GalkinError(f"names has {len(names)} entries but there are {len(items)} items.")
    names = [str(n) for n in names]
    if int(batch_size) < 1:
        raise GalkinError(f"batch_size must be a positive integer; got {batch_size!r}.")
    batch_size = int(batch_size) if mode == "blind" else 1  # solo/combined train per galaxy
    workers = _workers(workers)
    prepare_options, model_options = _split_options(
        dict(fit_kwargs, mode=mode, mc_samples=mc_samples)
    )
    if rotation_curves:
        model_options[_CURVES] = True
    keys = _keys(items, names)
    store, done = None, {}
    if checkpoint is not None:
        store = Checkpoint(checkpoint, {**prepare_options, **model_options})
        done = store.load()
    rows = {i: done[key] for i, key in enumerate(keys) if key in done}
    todo = [i for i in range(len(items)) if i not in rows]

    if not todo:
        finished = iter(())
    elif client is not None:
        finished = _on_dask(client, items, names, todo, prepare_options, model_options, batch_size)
    elif workers == 1 or len(todo) == 1:
        finished = _in_process(items, names, todo, prepare_options, model_options, batch_size)
    else:
        pool = min(workers, len(todo))
        finished = _in_pool(items, names, todo, prepare_options, model_options, batch_size, pool)
    bar = _progress(len(items), len(rows)) if progress else None
    for batch in finished:
        if store is not None:
            store.append([(keys[i], row) for i, row in batch])
        rows.update(batch)
        if bar is not None:
            bar.update(len(batch))
            counts = collections.Counter(str(r["status"]) for r in rows.values())
            bar.set_postfix_str(f"{counts['failed']} failed, {counts['rejected']} rejected")
    if bar is not None:
        bar.close()
    ordered = [rows[i] for i in range(len(items))]
    table = survey_table(ordered)
    table.meta["mode"] = mode
    if rotation_curves:
        return table, curve_table(ordered)
    return table


def _workers(workers):
    if workers is None:
        try:
            return max(1, len(os.sched_getaffinity(0)))
        except AttributeError:  # not Linux
            return os.cpu_count() or 1
    if int(workers) < 1:
        raise GalkinError(f"workers must be a positive integer; got {workers!r}.")
    return int(workers)


def _progress(total, initial):
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, unit="galaxy", mininterval=1.0)
