"""fit_many: a survey run fits every good galaxy and reports every bad one."""

import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from astropy import units as u
from astropy.io import fits

import galkin


def _cube(seed, inc=50.0, pa=120.0):
    return galkin.simulate_cube(
        inclination=inc * u.deg,
        position_angle=pa * u.deg,
        v_max=200 * u.km / u.s,
        r_turn=4 * u.arcsec,
        r_scale=8 * u.arcsec,
        beam=2.5 * u.arcsec,
        snr=15,
        seed=seed,
    )


@pytest.fixture(scope="module")
def survey(tmp_path_factory):
    folder = tmp_path_factory.mktemp("survey")
    good_file = folder / "good.fits"
    _cube(7, inc=65.0, pa=300.0).write(good_file)
    corrupt = folder / "corrupt.fits"
    corrupt.write_bytes(b"SIMPLE  =                    T" + b"\x00garbage" * 50)
    empty = folder / "empty.fits"
    header = _cube(8).header
    fits.PrimaryHDU(np.zeros((20, 64, 64), dtype=np.float32), header=header).writeto(empty)
    items = [_cube(1), corrupt, good_file, folder / "missing.fits", empty, _cube(2, inc=40.0)]
    return items


def test_fit_many_keeps_good_galaxies_and_reports_bad_ones(survey):
    table = galkin.fit_many(survey, mc_samples=10, seed=0, progress=False, workers=1)
    assert list(table["name"]) == ["galaxy_0", "corrupt", "good", "missing", "empty", "galaxy_5"]
    assert list(table["status"]) == ["ok", "failed", "ok", "failed", "failed", "ok"]
    ok = table["status"] == "ok"
    assert all(table["error"][~ok]) and not any(table["error"][ok])
    assert "does not exist" in table["error"][3]
    assert table["inclination"].unit == u.deg and table["v_max"].unit == u.km / u.s
    assert np.all(np.isnan(table["v_max"][~ok]))
    true_inc = np.array([50.0, 65.0, 40.0])
    assert np.all(np.abs(table["inclination"][ok].to_value(u.deg) - true_inc) < 6)
    assert np.all(np.abs(table["v_max"][ok].to_value(u.km / u.s) / 200 - 1) < 0.15)
    assert table["dispersion_profile"].shape == (6, 16)
    assert table["flag_low_inclination"].dtype == bool
    assert "flag_poor_fit" in table.colnames
    assert table.meta["n_ok"] == 3 and table.meta["n_failed"] == 3


def test_rejected_galaxies_are_rows_with_reasons(monkeypatch):
    import galkin.fitting

    def reject(*args, **kwargs):
        raise galkin.RejectedGalaxy("fewer than 200 good spaxels", name="x")

    monkeypatch.setattr(galkin.fitting, "prepare_maps", reject)
    table = galkin.fit_many([_cube(3)], progress=False)
    assert table["status"][0] == "rejected"
    assert table["error"][0] == "fewer than 200 good spaxels"


def test_bad_arguments():
    with pytest.raises(galkin.GalkinError, match="names"):
        galkin.fit_many([_cube(1)], names=["a", "b"])
    with pytest.raises(galkin.GalkinError, match="at least one"):
        galkin.fit_many([])


def test_dask_cluster_gives_the_in_process_result(survey):
    distributed = pytest.importorskip("distributed")
    items = [survey[0], survey[1], survey[2]]
    local = galkin.fit_many(items, mc_samples=10, seed=0, progress=False, workers=1)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        remote = galkin.fit_many(items, mc_samples=10, seed=0, client=client)
    assert list(remote["status"]) == list(local["status"])
    ok = local["status"] == "ok"
    for col in ("inclination", "v_max", "r_turn", "position_angle"):
        np.testing.assert_allclose(remote[col][ok].value, local[col][ok].value, rtol=2e-3)


PARAMETERS = ("inclination", "v_max", "r_turn", "position_angle", "systemic_velocity")


def assert_same_rows(a, b):
    assert list(a["name"]) == list(b["name"]) and list(a["status"]) == list(b["status"])
    assert list(a["error"]) == list(b["error"])
    ok = a["status"] == "ok"
    for col in PARAMETERS:
        np.testing.assert_allclose(a[col][ok].value, b[col][ok].value, rtol=1e-6, err_msg=col)


def test_process_pool_and_batches_give_the_in_process_rows_in_order(survey):
    options = dict(mc_samples=10, seed=0, progress=False, batch_size=2)
    here = galkin.fit_many(survey, workers=1, **options)
    pooled = galkin.fit_many(survey, workers=2, **options)
    assert_same_rows(pooled, here)
    assert list(pooled["status"]) == ["ok", "failed", "ok", "failed", "failed", "ok"]


def test_options_are_checked(survey):
    with pytest.raises(galkin.GalkinError, match=r"unknown option.*'sead'"):
        galkin.fit_many(survey, sead=1)
    with pytest.raises(galkin.GalkinError, match="workers must be"):
        galkin.fit_many(survey, workers=0)
    with pytest.raises(galkin.GalkinError, match="batch_size must be"):
        galkin.fit_many(survey, batch_size=0)


# ------------------------------------------------------------------ checkpoints
RUN = """
import sys
import galkin
paths, checkpoint = sys.argv[1].split(","), sys.argv[2]
names = [f"g{i:02d}" for i in range(len(paths))]
galkin.fit_many(paths, names=names, checkpoint=checkpoint, workers=1, batch_size=2,
                mc_samples=10, seed=0, progress=False)
"""


def _rows_in(path):
    return max(0, len(path.read_text().splitlines()) - 1) if path.exists() else 0


@pytest.fixture(scope="module")
def files(survey, tmp_path_factory):
    """Twenty cube paths (the good file, the corrupt one and the missing one, repeated)."""
    return [str(survey[k]) for k in (2, 1, 2, 3, 2) * 4]


def test_a_checkpointed_run_killed_half_way_resumes(files, tmp_path, monkeypatch):
    checkpoint = tmp_path / "run.jsonl"
    names = [f"g{i:02d}" for i in range(len(files))]
    process = subprocess.Popen([sys.executable, "-c", RUN, ",".join(files), str(checkpoint)])
    try:
        deadline = time.monotonic() + 300
        while _rows_in(checkpoint) < 6 and process.poll() is None:
            assert time.monotonic() < deadline, "the run never wrote its rows"
            time.sleep(0.01)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait()
    written = _rows_in(checkpoint)
    assert 6 <= written < len(files), "not killed half-way: make the run slower"
    # a crash in the middle of a write leaves a partial line: it is dropped
    with open(checkpoint, "a") as stream:
        stream.write('{"key": "/some/path", "row": {"name": "g9')

    import galkin.fitting

    prepared = []
    original = galkin.fitting.prepare_maps

    def counting(data, **kwargs):
        prepared.append(data)
        return original(data, **kwargs)

    monkeypatch.setattr(galkin.fitting, "prepare_maps", counting)
    options = dict(names=names, workers=1, batch_size=2, mc_samples=10, seed=0, progress=False)
    table = galkin.fit_many(files, checkpoint=checkpoint, **options)
    assert len(prepared) == len(files) - written  # the finished rows were not fitted again
    assert list(table["name"]) == names  # every row once, in order
    assert _rows_in(checkpoint) == len(files)
    # the same table as an uninterrupted run
    assert_same_rows(table, galkin.fit_many(files, **options))
    # and a third call fits nothing
    prepared.clear()
    assert_same_rows(galkin.fit_many(files, checkpoint=checkpoint, **options), table)
    assert prepared == []


def test_a_checkpoint_refuses_other_options(files, tmp_path):
    checkpoint = tmp_path / "run.jsonl"
    galkin.fit_many(files[:2], checkpoint=checkpoint, workers=1, mc_samples=5, progress=False)
    with pytest.raises(galkin.GalkinError, match="mc_samples differ"):
        galkin.fit_many(files[:2], checkpoint=checkpoint, workers=1, mc_samples=6)
    (tmp_path / "other.txt").write_text("not a checkpoint\n")
    with pytest.raises(galkin.GalkinError, match="not a galkin checkpoint"):
        galkin.fit_many(files[:2], checkpoint=tmp_path / "other.txt", workers=1)


def test_a_dask_worker_killed_mid_run_does_not_lose_the_run(files, tmp_path):
    distributed = pytest.importorskip("distributed")
    checkpoint = tmp_path / "run.jsonl"
    names = [f"g{i:02d}" for i in range(len(files))]
    options = dict(names=names, batch_size=1, mc_samples=10, seed=0, progress=False)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        pids = client.run(os.getpid)
        result = {}
        run = threading.Thread(
            target=lambda: result.update(
                table=galkin.fit_many(files, client=client, checkpoint=checkpoint, **options)
            )
        )
        run.start()
        deadline = time.monotonic() + 300
        while _rows_in(checkpoint) < 3:
            assert time.monotonic() < deadline and run.is_alive()
            time.sleep(0.01)
        busy = [w for w, tasks in client.processing().items() if tasks]
        os.kill(pids[busy[0]], signal.SIGKILL)  # a worker dies with a task in hand
        run.join(timeout=300)
    assert _rows_in(checkpoint) < len(files) + 2  # rows of recomputed tasks at most twice
    table = result["table"]
    assert list(table["name"]) == names
    assert_same_rows(table, galkin.fit_many(files, workers=1, **options))


class _KillsItsProcess:
    """An item that ends the worker process reading it, as a segfault in a reader would
    (on being unpickled there, whichever way the worker was started)."""

    name = "killer"

    def __reduce__(self):
        return os._exit, (3,)


def test_a_file_that_kills_its_worker_process_loses_no_other_galaxy(files):
    items = files[:5]  # good, corrupt, good, killer, good
    items[3] = _KillsItsProcess()
    # on the CPU (also on a GPU machine) each worker prepares and fits its batch
    table = galkin.fit_many(
        items, workers=2, batch_size=2, mc_samples=5, progress=False, device="cpu"
    )
    assert list(table["status"]) == ["ok", "failed", "ok", "failed", "ok"]
    assert "process preparing and fitting it died" in table["error"][3]


def test_after_cuda_the_workers_start_from_a_fresh_interpreter(survey, monkeypatch):
    """A child forked from a process that has used CUDA can run neither CUDA nor autograd
    (every CPU fit in it failed on a GPU machine once a fit had run there): such a
    process's pool starts its workers fresh, and gives the same rows."""
    import multiprocessing

    import torch

    from galkin import batch

    options = dict(mc_samples=5, seed=0, progress=False, device="cpu", batch_size=2)
    forked = galkin.fit_many(survey, workers=2, **options)
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: True)
    if multiprocessing.get_start_method() == "fork":
        assert batch._context().get_start_method() in ("forkserver", "spawn")
    assert_same_rows(galkin.fit_many(survey, workers=2, **options), forked)


def test_rotation_curves_travel_with_the_rows_and_the_checkpoint(survey, tmp_path):
    """fit_many(rotation_curves=True): one long table of every fitted galaxy's rings."""
    items = survey[:3]  # a cube, a corrupt file, a good file
    checkpoint = tmp_path / "curves.jsonl"
    options = dict(mc_samples=10, seed=0, progress=False, workers=1, rotation_curves=True)
    table, curves = galkin.fit_many(items, checkpoint=checkpoint, **options)
    assert list(table["status"]) == ["ok", "failed", "ok"]
    assert "rotation_curve" not in table.colnames
    assert list(dict.fromkeys(curves["name"])) == ["galaxy_0", "good"]  # fitted ones, in order
    assert curves["radius"].unit == u.arcsec and curves["v_rot"].unit == u.km / u.s
    assert not np.any(curves["fitted_rings"])  # an arctan fit evaluated at laid-out rings
    r = curves["radius"].to_value(u.arcsec)
    truth = 200 * 2 / np.pi * np.arctan(r / 4.0)  # the simulated arctan curve
    outer = r > 2.5  # beyond one beam
    assert np.median(np.abs(curves["v_rot"].to_value(u.km / u.s)[outer] / truth[outer] - 1)) < 0.05
    assert np.all(curves["v_rot_err"] > 0 * u.km / u.s)
    # read back from the checkpoint: the same curves, nothing fitted again
    again_table, again = galkin.fit_many(items, checkpoint=checkpoint, **options)
    for name in curves.colnames:
        np.testing.assert_array_equal(np.asarray(again[name]), np.asarray(curves[name]))
    # a checkpoint written without curves is not mixed with one that has them
    with pytest.raises(galkin.GalkinError, match="rotation_curves"):
        galkin.fit_many(items, checkpoint=checkpoint, **(options | {"rotation_curves": False}))


def test_curve_table_keeps_each_galaxy_unit_when_they_do_not_convert():
    from galkin.survey_table import curve_table

    def row(name, unit):
        return {
            "name": name,
            "status": "ok",
            "rotation_curve": {
                "ring": np.array([1, 2]),
                "radius": [1.0, 2.0] * u.arcsec,
                "surface_density": [3.0, 4.0] * unit,
            },
        }

    failed = {"name": "bad", "status": "failed", "error": "broken"}
    same = curve_table([row("a", u.Jy), failed, row("b", u.mJy)])
    assert list(same["name"]) == ["a", "a", "b", "b"]
    assert same["surface_density"].unit == u.Jy
    np.testing.assert_allclose(same["surface_density"].value, [3, 4, 0.003, 0.004])
    mixed = curve_table([row("a", u.Jy), row("b", u.erg / u.s / u.cm**2)])
    np.testing.assert_allclose(mixed["surface_density"], [3, 4, 3, 4])
    assert list(mixed["surface_density_unit"]) == ["Jy", "Jy", "erg / (s cm2)", "erg / (s cm2)"]


def test_on_a_gpu_machine_the_default_device_fits_in_the_calling_process(monkeypatch):
    """``device=None`` means CUDA where there is one (as in `galkin.fit`): pool workers,
    forked from a process that may have used CUDA, cannot, so they only prepare."""
    import torch

    from galkin.model import resolve_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device(None) == "cuda" and resolve_device("cpu") == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device(None) == "cpu" and resolve_device("cuda:1") == "cuda:1"
