"""The mock MaNGA + SAMI survey: the population, the files galkin.load reads, the pipeline.

A small survey (16 galaxies) runs end to end here; the survey-scale recovery of the
injected Tully-Fisher slope is ``benchmarks/bench_mock_survey.py``.
"""

import numpy as np
import pytest
from astropy import units as u
from astropy.table import QTable

import galkin
from galkin import GalkinError, RejectedGalaxy
from galkin_plugins.mock_survey import (
    THESIS_TFR,
    InjectedTFR,
    draw_population,
    make_mock_survey,
    run_mock_survey,
)
from galkin_plugins.surveys.writers import MANGA_FLUX_UNIT, write_manga_maps

KMS = u.km / u.s
N_GALAXIES = 16


@pytest.fixture(scope="module")
def survey(tmp_path_factory):
    return make_mock_survey(
        tmp_path_factory.mktemp("mock"),
        N_GALAXIES,
        seed=3,
        n_particles=100_000,
        inclination_range=(20, 75) * u.deg,
    )


@pytest.fixture(scope="module")
def result(survey):
    return run_mock_survey(survey, mode="blind", mc_samples=20)  # the shipped network


def test_population_follows_the_injected_relation():
    relation = InjectedTFR(slope=0.3, intercept=2.2, pivot=10.0, scatter=0.06)
    pop = draw_population(3000, relation=relation, seed=1)
    x = pop["log_mstar_true"].to_value(u.dex(u.Msun))
    y = np.log10(pop["v_circ"].to_value(KMS))
    slope, intercept = np.polyfit(x - relation.pivot, y, 1)
    assert slope == pytest.approx(0.3, abs=0.005) and intercept == pytest.approx(2.2, abs=0.003)
    assert np.std(y - relation.log_v(x)) == pytest.approx(0.06, rel=0.05)
    # catalogue masses carry the quoted error
    dm = pop["log_mstar"].to_value(u.dex(u.Msun)) - x
    assert np.std(dm) == pytest.approx(0.1, rel=0.05)
    assert np.all(pop["log_mstar_err"] == 0.1 * u.dex)
    # isotropic orientations: P(i < 30 deg) = 1 - cos 30 deg
    inc = pop["inclination"].to_value(u.deg)
    assert np.mean(inc < 30) == pytest.approx(1 - np.cos(np.radians(30)), abs=0.02)
    assert inc.max() <= 85
    assert list(np.unique(pop["survey"])) == ["manga", "sami"]
    # MaNGA bundles reach 1.5 r_e where one is big enough
    manga = pop["survey"] == "manga"
    reach = pop["bundle_radius"][manga] >= 1.5 * pop["r_e"][manga]
    assert np.mean(reach) > 0.95
    assert np.all(pop["r_scale"] < pop["r_e"]) and len(set(pop["name"])) == 3000


def test_population_bad_arguments():
    with pytest.raises(GalkinError, match="n must be a positive integer"):
        draw_population(0)
    with pytest.raises(GalkinError, match='surveys must be a sequence of "manga" and "sami"'):
        draw_population(5, surveys=("califa",))
    with pytest.raises(GalkinError, match="inclination_range must be"):
        draw_population(5, inclination_range=(60, 30) * u.deg)
    with pytest.raises(GalkinError, match="mass_err must be an astropy Quantity"):
        draw_population(5, mass_err=0.1)


def test_writer_refuses_unitless_maps(tmp_path):
    ones = np.ones((8, 8))
    with pytest.raises(GalkinError, match="velocity must be an astropy Quantity"):
        write_manga_maps(
            tmp_path / "x.fits",
            flux=ones * MANGA_FLUX_UNIT,
            flux_err=ones * MANGA_FLUX_UNIT,
            velocity=ones,
            velocity_err=ones * KMS,
            sigma=ones * KMS,
            sigma_err=ones * KMS,
            instrumental_sigma=ones * KMS,
            plateifu="1-2",
        )


def test_every_file_loads_with_its_survey_conventions(survey):
    truth = survey.truth
    assert len(survey.files) == N_GALAXIES and set(truth["survey"]) == {"manga", "sami"}
    assert (survey.directory / "catalogue.ecsv").is_file()
    catalogue = QTable.read(survey.directory / "catalogue.ecsv")
    assert catalogue["log_mstar"].unit == u.dex(u.Msun) and catalogue["r_e"].unit == u.arcsec
    assert list(catalogue["name"].astype(str)) == survey.names
    loaded = 0
    for path, row in zip(survey.files, truth, strict=True):
        try:
            maps = galkin.load(path)
        except RejectedGalaxy as exc:  # only the SAMI 200-spaxel cut should bite here
            assert row["survey"] == "sami" and "spaxels pass the S/N >= 10 cut" in exc.reason
            assert row["n_expected"] < 260
            continue
        loaded += 1
        assert maps.meta["survey"] == row["survey"] and maps.name == row["name"]
        assert u.isclose(maps.beam.major, row["psf_fwhm"], rtol=1e-5)
        assert maps.n_valid == pytest.approx(row["n_expected"], rel=0.15)
        v = np.abs(maps.moment1.to_value(KMS)[maps.mask])
        vsini = row["v_rot"].to_value(KMS) * np.sin(row["inclination"])
        assert 0.6 < np.percentile(v, 98) / vsini < 1.2
        # the adapters hand back the intrinsic dispersion: within beam smearing of the truth
        sigma = np.nanmedian(maps.dispersion.to_value(KMS)[maps.mask])
        assert 0.7 * row["dispersion"].to_value(KMS) < sigma < 100
    assert loaded >= 6


def test_injected_rotation_is_slowed_by_the_drift(survey):
    t = survey.truth
    factor = 2 * t["r_drift"] / t["r_scale"] - 1
    v_c2 = t["v_rot"] ** 2 + t["dispersion"] ** 2 * factor
    assert u.allclose(np.sqrt(v_c2), t["v_circ"], rtol=1e-10)
    assert np.all(t["v_rot"] < t["v_circ"]) and np.all(t["v_rot"] ** 2 >= 0.5 * t["v_circ"] ** 2)


def test_pipeline_end_to_end(result, survey):
    table, fit = result.table, result.fit
    assert list(table["name"]) == survey.names  # one row per galaxy, in order
    status = np.asarray(table["status"]).astype(str)
    assert set(status) <= {"ok", "rejected"} and (status == "ok").sum() >= 6
    ok = status == "ok"
    truth = survey.truth
    # the fitted extent and dispersion measure what was injected (the extent is
    # de-projected with the fitted geometry, so only where the cuts trust it)
    keep = np.asarray(table["keep"])
    r_max = (table["r_max"] / truth["r_drift"]).decompose().value
    assert np.all((r_max[keep] > 0.75) & (r_max[keep] < 1.25)), r_max[keep]
    assert 0.9 < np.median(r_max[ok]) < 1.1, r_max[ok]
    # beam smearing is removed from the widths, but some excess remains (MaNGA widths
    # below the instrumental one are blanked, not averaged; see the mock-survey docs)
    sigma = (table["v_disp"][ok] / truth["dispersion"][ok]).decompose().value
    assert np.all((sigma > 0.8) & (sigma < 3.0)), sigma
    assert np.median(sigma) < 2.0, sigma
    # the drift correction raises V_max, towards the injected circular speed
    assert np.all(table["v_max_corrected"][ok] > table["v_max"][ok])
    assert keep.sum() >= 5 and not keep[~ok].any()
    log_ratio = np.log10((table["v_max_corrected"][keep] / truth["v_circ"][keep]).value)
    assert abs(np.median(log_ratio)) < 0.1, log_ratio
    low = ok & (table["inclination"] < 30 * u.deg)
    assert not keep[low].any()
    # the TFR: the galaxies kept, at the injected pivot, a slope near the injected one
    assert fit.form == "reverse" and fit.pivot == THESIS_TFR.pivot
    assert fit.y_column == "v_max_corrected" and fit.n_used + fit.n_clipped == keep.sum()
    assert abs(fit.slope - THESIS_TFR.slope) < max(3 * fit.slope_err, 0.1), str(fit)
    assert abs(fit.intercept - THESIS_TFR.intercept) < 0.1, str(fit)
    assert 0 < fit.slope_err < 0.2 and np.isfinite(fit.scatter)
    text = result.summary()
    assert "slope" in text and f"{fit.slope:.4f}" in text
    assert result.seconds["fit"] > 0


def test_run_refuses_an_unavailable_mode(survey):
    with pytest.raises(GalkinError, match="mode='no-such-mode' is not available.*choose from"):
        run_mock_survey(survey, mode="no-such-mode")
    with pytest.raises(GalkinError, match="survey must be the MockSurvey"):
        run_mock_survey(survey.files)
