"""fit_many: a survey run fits every good galaxy and reports every bad one."""

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
    table = galkin.fit_many(survey, mc_samples=10, seed=0, progress=False)
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

    monkeypatch.setattr(galkin.fitting, "fit", reject)
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
    local = galkin.fit_many(items, mc_samples=10, seed=0, progress=False)
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
