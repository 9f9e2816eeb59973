"""Science post-processors: catalogue join, asymmetric drift, cuts, Tully-Fisher, correlations."""

import dataclasses
import sys

import numpy as np
import pytest
from astropy import units as u
from astropy.table import QTable, Table

import galkin
from galkin import GalkinError, GalkinWarning
from galkin.plugins import registry
from galkin_plugins.science import (
    AsymmetricDrift,
    Correlations,
    QualityCuts,
    TullyFisher,
    drift_corrected_v_max,
    fit_tully_fisher,
    join_catalogue,
    literature_table,
    mean_dispersion,
    spearman_correlations,
)
from galkin_plugins.science.figures import plot_tully_fisher, plot_tully_fisher_residuals

KMS = u.km / u.s
NBINS = 16
# The reverse TFR the synthetic sample is drawn from (close to thesis Eq. 4.5).
TRUTH = {"slope": 0.26, "intercept": 2.26, "pivot": 10.09, "scatter": 0.05}
N_OUTLIERS = 10


def fit_table(n, *, seed=0, log_v=None):
    """A table shaped like ``galkin.fit_many``'s output (the contract the lead builds)."""
    rng = np.random.default_rng(seed)
    v = 10**log_v if log_v is not None else rng.uniform(80, 250, n)
    return QTable(
        {
            "name": [f"g{i:03d}" for i in range(n)],
            "status": np.full(n, "ok", dtype="U8"),
            "error": np.full(n, "", dtype="U64"),
            "inclination": rng.uniform(35, 80, n) * u.deg,
            "inclination_err": np.full(n, 2.0) * u.deg,
            "position_angle": rng.uniform(0, 360, n) * u.deg,
            "v_max": v * KMS,
            "v_max_err": 0.03 * v * KMS,
            "r_turn": rng.uniform(0.5, 3, n) * u.arcsec,
            "r_turn_err": np.full(n, 0.1) * u.arcsec,
            "r_scale": rng.uniform(2, 4, n) * u.arcsec,
            "r_scale_err": np.full(n, 0.1) * u.arcsec,
            "loss": rng.uniform(0.005, 0.015, n),
            "v_scale": v * KMS,
            "r_max": rng.uniform(8, 15, n) * u.arcsec,
            "dispersion_profile": np.full((n, NBINS), 25.0) * KMS,
        }
    )


# ----------------------------------------------------------------------------- registry
def test_postprocessors_registered():
    names = galkin.list_postprocessors()
    for name in ("join", "asymmetric_drift", "quality_cuts", "tully_fisher", "correlations"):
        assert name in names
    assert registry("postprocessor")["tully_fisher"] is TullyFisher


# ----------------------------------------------------------------------------- join
def test_join_keeps_order_units_and_reports_unmatched():
    table = fit_table(4)
    cat = Table(
        {
            "plateifu": ["g003", "g000", "g001", "zzz"],
            "r_e": [1.0, 2.0, 3.0, 4.0],
            "log_mstar": [9.0, 10.0, 11.0, 12.0],
        }
    )
    cat["r_e"].unit = u.arcsec
    with pytest.warns(GalkinWarning, match="1 of 4 galaxies are not in the catalogue: g002"):
        out = join_catalogue(table, cat, catalogue_key="plateifu")
    assert list(out["name"]) == ["g000", "g001", "g002", "g003"]
    assert out["r_e"].unit == u.arcsec
    np.testing.assert_array_equal(out["r_e"].value[[0, 1, 3]], [2.0, 3.0, 1.0])
    assert np.isnan(out["r_e"][2]) and np.isnan(out["log_mstar"][2])
    assert list(out["in_catalogue"]) == [True, True, False, True]
    assert out.meta["unmatched"] == ["g002"]
    assert out["v_max"].unit == KMS  # the fit columns are untouched
    assert out["dispersion_profile"].shape == (4, NBINS)


def test_join_integer_ids_and_errors():
    table = QTable({"name": ["1", "2"], "v_max": [100.0, 200.0] * KMS})
    cat = QTable({"name": [2, 1], "age": [5.0, 3.0] * u.Gyr})
    out = join_catalogue(table, cat)
    assert out["age"].to_value(u.Gyr).tolist() == [3.0, 5.0]
    with pytest.raises(GalkinError, match="more than once: 1"):
        join_catalogue(table, QTable({"name": [1, 1], "age": [1.0, 2.0]}))
    with pytest.raises(GalkinError, match=r"\['v_max'\] already exist"):
        join_catalogue(table, QTable({"name": [1, 2], "v_max": [1.0, 2.0]}))
    with pytest.raises(GalkinError, match="needs the column 'name'.*catalogue_key=.*galaxy_id"):
        join_catalogue(table, QTable({"galaxy_id": [1, 2]}))


# ----------------------------------------------------------------------------- drift
def test_mean_dispersion_weights_bins_by_overlap():
    # Bins 0-2, 2-4, 4-6, 6-8 arcsec; r_e = 1.5 -> from 3 arcsec.
    prof = [40.0, 30.0, 20.0, 10.0] * KMS
    v, inner = mean_dispersion(prof, 8 * u.arcsec, 1.5 * u.arcsec)
    assert inner == 3 * u.arcsec
    assert v.to_value(KMS) == pytest.approx((1 * 30 + 2 * 20 + 2 * 10) / 5)
    # r_max < 2 r_e: from r_max / 2 = 4 arcsec: the last two bins, equally.
    v, inner = mean_dispersion(prof, 8 * u.arcsec, 5 * u.arcsec)
    assert inner == 4 * u.arcsec and v.to_value(KMS) == pytest.approx(15.0)
    # A bin without data is skipped, not counted as zero.
    v, _ = mean_dispersion([40.0, 30.0, np.nan, 10.0] * KMS, 8 * u.arcsec, 1.5 * u.arcsec)
    assert v.to_value(KMS) == pytest.approx((1 * 30 + 2 * 10) / 3)


def test_drift_correction_by_hand():
    v, err = drift_corrected_v_max(
        150 * KMS,
        30 * KMS,
        10 * u.arcsec,
        4 * u.arcsec,
        v_max_err=6 * KMS,
        v_disp_err=3 * KMS,
        r_scale_err=0.2 * u.arcsec,
    )
    factor = 2 * 10 / 4 - 1  # 4
    expect = np.sqrt(150**2 + 30**2 * factor)  # 161.555
    assert v.to_value(KMS) == pytest.approx(expect)
    # Partial derivatives: V/V', D f/V', -D^2 r_max / r_s^2 / V'.
    d_err = np.sqrt((150 * 6) ** 2 + (30 * factor * 3) ** 2 + (900 * 10 / 16 * 0.2) ** 2) / expect
    assert err.to_value(KMS) == pytest.approx(d_err)


def test_asymmetric_drift_table_values_and_notes():
    table = fit_table(4)
    table["v_max"] = [100.0, 200.0, 150.0, 120.0] * KMS
    table["v_max_err"] = [0.0, 0.0, 0.0, 0.0] * KMS
    table["r_scale"] = [2.0, 5.0, 3.0, 10.0] * u.arcsec
    table["r_max"] = [16.0, 16.0, 16.0, 4.0] * u.arcsec
    prof = np.linspace(50, 20, NBINS)[None, :].repeat(4, axis=0)  # bins of 1 arcsec
    prof[1] = np.nan
    table["dispersion_profile"] = prof * KMS
    table["r_e"] = [3.0, 3.0, 10.0, 1.0] * u.arcsec
    table["status"][2] = "failed"
    out = AsymmetricDrift()(table)
    # Row 0: from 2 r_e = 6 arcsec, bins 6..15 (index 6-15), equal weights.
    vd = prof[0, 6:].mean()
    assert out["v_disp"][0].to_value(KMS) == pytest.approx(vd)
    assert out["v_max_corrected"][0].to_value(KMS) == pytest.approx(
        np.sqrt(100**2 + vd**2 * (2 * 16 / 2 - 1))
    )
    assert out["drift_note"][0] == ""
    assert np.isnan(out["v_max_corrected"][1]) and out["drift_note"][1] == "no dispersion data"
    assert "not fitted" in out["drift_note"][2] and np.isnan(out["v_disp"][2])
    # Row 3: r_max = 4 < r_scale / 2 = 5: V^2 + D^2 (2 * 0.4 - 1) -- a negative correction.
    vd3 = prof[3, 8:].mean()  # r_max / 2 = 2 arcsec of 4: the outer 8 bins
    assert out["v_disp_r_inner"][3] == 2 * u.arcsec
    assert out["v_max_corrected"][3].to_value(KMS) == pytest.approx(np.sqrt(120**2 - 0.2 * vd3**2))
    assert out["v_max_corrected"].unit == KMS and "v_max_corrected" not in table.colnames


def test_asymmetric_drift_bad_input_names_the_column():
    table = fit_table(3)
    with pytest.raises(GalkinError, match="'r_e'.*join_catalogue"):
        AsymmetricDrift()(table)
    table["r_e"] = [1.0, 2.0, 3.0] * u.kpc
    with pytest.raises(GalkinError, match="'r_e' is in kpc.*angular-diameter distance"):
        AsymmetricDrift()(table)
    table["r_e"] = [1.0, 2.0, 3.0]
    with pytest.raises(GalkinError, match="'r_e' has no units.*unit = 'arcsec'"):
        AsymmetricDrift()(table)


# ----------------------------------------------------------------------------- cuts
def test_quality_cuts_flag_without_dropping():
    table = fit_table(12, seed=3)
    table["inclination"][0] = 20 * u.deg
    table["loss"][5] = 0.2  # a poor reconstruction
    table["status"][7] = "failed"
    table["error"][7] = "PA fit failed"
    out = QualityCuts()(table)
    assert len(out) == len(table)
    assert not out["keep"][0] and out["low_inclination"][0]
    assert out["cut_reason"][0] == "inclination 20.0 deg < 30.0 deg"
    assert not out["keep"][5] and out["high_loss"][5]
    assert out["cut_reason"][5].startswith("normalised loss 0.2 >")
    assert out["cut_reason"][7] == "status failed: PA fit failed"
    assert out["keep"].sum() == 9
    # The threshold is mean + 1 std of the normalised loss of rows 1-6 and 8-11.
    sample = np.r_[1:7, 8:12]
    norm = out["loss_normalised"][sample]  # v_scale = v_max here
    assert out.meta["quality_cuts"]["loss_thresholds"]["0"] == pytest.approx(
        norm.mean() + norm.std()
    )


def test_quality_cuts_stellar_mass_option():
    table = fit_table(6, seed=4)
    table["log_mstar"] = [7.0, 8.0, np.nan, 9.0, 10.0, 11.0] * u.dex(u.Msun)
    out = QualityCuts(min_log_mstar=7.5, n_sigma=None)(table)
    assert out["low_mass"].tolist() == [True, False, True, False, False, False]
    assert (
        out["cut_reason"][0] == "log M* 7.00 < 7.50" and out["cut_reason"][2] == "log M* nan < 7.50"
    )
    assert out["keep"].sum() == 4
    with pytest.raises(GalkinError, match="'mstar'.*Join the mass catalogue"):
        QualityCuts(min_log_mstar=7.5, mass="mstar")(table)


def test_chi2_loss_cut_does_not_select_on_rotation_speed():
    """The same residual noise (km/s) on slow and fast rotators: only the V_max
    normalisation cuts the slow ones; the chi-square cut keeps both."""
    n = 40
    table = fit_table(n)
    v = np.where(np.arange(n) % 4 == 0, 60.0, 250.0)  # a quarter slow rotators
    table["v_max"] = v * KMS
    table["v_scale"] = v * KMS
    noise = 10.0  # km/s of moment-1 residual, whatever the speed
    table["loss"] = (noise / v) ** 2
    table["chi2_moment1"] = np.ones(n)
    table["chi2_moment1"][[8, 9]] = 9.0  # two galaxies (one slow) the disc does not describe
    by_speed = QualityCuts(min_inclination=0 * u.deg)(table)
    assert not by_speed["keep"][v == 60].any() and by_speed["keep"][v == 250].all()
    by_chi2 = QualityCuts(min_inclination=0 * u.deg, loss_normalisation="chi2")(table)
    assert by_chi2["keep"].sum() == n - 2 and not by_chi2["keep"][[8, 9]].any()


def test_quality_cuts_normalise_by_v_max():
    table = fit_table(3)
    table["v_max"] = [100.0, 200.0, 50.0] * KMS
    table["v_scale"] = [200.0, 200.0, 200.0] * KMS
    table["loss"] = [0.01, 0.01, 0.01]
    out = QualityCuts(n_sigma=None)(table)
    np.testing.assert_allclose(out["loss_normalised"], [0.04, 0.01, 0.16])
    out = QualityCuts(n_sigma=None, loss_normalisation="v_max")(table)
    np.testing.assert_allclose(out["loss_normalised"], [0.02, 0.01, 0.04])
    with pytest.raises(GalkinError, match="loss_normalisation must be one of"):
        QualityCuts(loss_normalisation="vmax")
    with pytest.raises(GalkinError, match="chi2_moment1"):
        QualityCuts(loss_normalisation="chi2")(table)
    with pytest.raises(GalkinError, match="min_inclination must be an astropy Quantity"):
        QualityCuts(min_inclination=30)


# ----------------------------------------------------------------------------- TFR
def tfr_sample(n=300, seed=42):
    """Draw a reverse TFR with known slope, intercept and intrinsic scatter, plus outliers."""
    rng = np.random.default_rng(seed)
    log_m = rng.uniform(9.0, 11.5, n)
    log_v = (
        TRUTH["slope"] * (log_m - TRUTH["pivot"])
        + TRUTH["intercept"]
        + rng.normal(0, TRUTH["scatter"], n)
    )
    table = fit_table(n, seed=seed, log_v=log_v)
    table["v_max"] *= 1 + rng.normal(0, 0.03, n)  # measured with the 3% errors in v_max_err
    table["log_mstar"] = (log_m + rng.normal(0, 0.1, n)) * u.dex(u.Msun)
    table["log_mstar_err"] = np.full(n, 0.1) * u.dex
    table["v_max"][:N_OUTLIERS] *= 0.3  # log V 0.52 dex low: > 5 sigma outliers
    return table


@pytest.fixture(scope="module")
def reverse_fit():
    return fit_tully_fisher(tfr_sample(), "reverse", pivot=TRUTH["pivot"])


def test_reverse_tfr_recovers_the_injected_line(reverse_fit):
    fit = reverse_fit
    for key, err in [("slope", "slope_err"), ("intercept", "intercept_err")]:
        assert abs(getattr(fit, key) - TRUTH[key]) < 3 * getattr(fit, err), str(fit)
    assert 0 < fit.slope_err < 0.02 and 0 < fit.intercept_err < 0.01
    # Clipping at 2.6 sigma truncates the Gaussian tails, so the intrinsic scatter
    # comes out ~10% low (0.045 +- 0.004 over 20 seeds); see the unbiased test below.
    assert 0.75 * TRUTH["scatter"] < fit.scatter < TRUTH["scatter"] + 3 * fit.scatter_err
    # Every injected outlier is clipped, and few good points (< 5%) are.
    assert fit.outliers[:N_OUTLIERS].all()
    assert fit.n_clipped - N_OUTLIERS < 0.05 * (300 - N_OUTLIERS)
    assert fit.n_used + fit.n_clipped == 300
    assert fit.rms > fit.scatter
    assert np.isnan(fit.residuals).sum() == 0


def test_intrinsic_scatter_recovered_with_a_wider_clip():
    # clip = |Phi^-1(1 / 2n)| ~ 2.9 for n = 300 clips ~1 good point; 3.5 keeps the tails.
    fit = fit_tully_fisher(tfr_sample(), "reverse", pivot=TRUTH["pivot"], clip=3.5)
    assert abs(fit.scatter - TRUTH["scatter"]) < 3 * fit.scatter_err, str(fit)
    assert abs(fit.slope - TRUTH["slope"]) < 3 * fit.slope_err, str(fit)
    assert fit.outliers[:N_OUTLIERS].all() and fit.n_clipped - N_OUTLIERS <= 2


def test_fit_is_quiet_seeded_and_keeps_global_random_state(capsys):
    table = tfr_sample(40, seed=2)
    table["v_max_corrected"] = table["v_max"] * 1.1
    table["v_max_corrected_err"] = table["v_max_err"]
    table["keep"] = np.arange(40) >= 5
    np.random.seed(123)  # noqa: NPY002
    before = np.random.get_state()[1].copy()  # noqa: NPY002
    a = fit_tully_fisher(table, "reverse")
    after = np.random.get_state()[1]  # noqa: NPY002
    np.testing.assert_array_equal(before, after)
    b = TullyFisher("reverse")(table)
    assert a.slope == b.slope and a.pivot == pytest.approx(np.median(a.x[a.fitted]))
    assert capsys.readouterr().out == ""
    pyplot = sys.modules.get("matplotlib.pyplot")
    assert pyplot is None or pyplot.get_fignums() == []
    # The drift-corrected velocity is used when present, and keep == False rows are left out.
    assert a.y_column == "v_max_corrected" and a.fitted.sum() == 35
    assert not a.fitted[:5].any()


def test_forward_and_magnitude_forms_recover_their_lines():
    rng = np.random.default_rng(5)
    n = 200
    log_v = rng.uniform(1.9, 2.5, n)
    table = fit_table(n, seed=5, log_v=log_v)
    table["v_max_err"] = 0.01 * table["v_max"]
    table["log_mstar"] = 3.0 * (log_v - 2.256) + 10.05 + rng.normal(0, 0.2, n)
    table["M_r"] = (-5.3 * (log_v - 2.256) - 19.7 + rng.normal(0, 0.3, n)) * u.mag
    fwd = fit_tully_fisher(table, "forward", pivot=2.256)
    assert abs(fwd.slope - 3.0) < 3 * fwd.slope_err and abs(fwd.intercept - 10.05) < 0.05
    mag = fit_tully_fisher(table, "magnitude", pivot=2.256)
    assert abs(mag.slope + 5.3) < 3 * mag.slope_err
    assert abs(mag.intercept + 19.7) < 3 * mag.intercept_err
    assert abs(mag.scatter - 0.3) < 3 * mag.scatter_err
    row = mag.to_table()
    assert row["intercept"].unit == u.mag and row["pivot"].unit == u.dex(KMS)
    assert fwd.to_table()["intercept"].unit == u.dex(u.Msun)


def test_tfr_bad_input():
    table = fit_table(10)
    with pytest.raises(GalkinError, match="'log_mstar'.*join_catalogue"):
        fit_tully_fisher(table, "reverse")
    with pytest.raises(GalkinError, match="form must be one of"):
        TullyFisher("inverse")
    table["log_mstar"] = np.full(10, 10.0)
    table["status"][:7] = "failed"
    with pytest.raises(GalkinError, match="only 3 galaxies"):
        fit_tully_fisher(table, "reverse")
    table["log_mstar"] = np.full(10, 1e10) * u.km
    with pytest.raises(GalkinError, match="'log_mstar' is in km"):
        fit_tully_fisher(table, "reverse")


def test_literature_table_at_the_fit_pivot(reverse_fit):
    tab = literature_table(reverse_fit)
    assert list(tab["reference"][:2]) == ["galkin (this sample)", "Dawson 2021 (thesis)"]
    assert tab["slope"][0] == reverse_fit.slope
    assert np.all(tab["pivot"].value == TRUTH["pivot"])
    # Table 4.1's own numbers at its pivot.
    ref = literature_table()
    np.testing.assert_allclose(ref["slope"], [0.258, 0.310, 0.260, 0.278])
    np.testing.assert_allclose(ref["intercept"].value, [2.265, 2.198, 2.123, 2.164])
    # Moving the pivot moves the intercept along the line.
    moved = literature_table(pivot=11.09)
    np.testing.assert_allclose(moved["intercept"].value, ref["intercept"].value + ref["slope"])
    assert moved["intercept_err"][3].value == pytest.approx(np.hypot(0.004, 0.010))
    with pytest.raises(GalkinError, match="form='reverse'"):
        literature_table(dataclasses.replace(reverse_fit, form="forward"))


# ----------------------------------------------------------------------------- correlations
def test_spearman_correlated_and_uncorrelated():
    rng = np.random.default_rng(11)
    n = 200
    table = fit_table(n, seed=11)
    v = table["v_max"].to_value(KMS)
    table["age"] = (np.log(v) + rng.normal(0, 0.05, n)) * u.Gyr  # monotonic in V
    table["ml"] = rng.normal(1, 0.2, n)  # independent
    table["r_e"] = table["r_turn"] * 4
    table["keep"] = np.ones(n, dtype=bool)
    table["keep"][:50] = False
    res = Correlations(["age", "ml", "r_turn/r_e"])(table)
    assert list(res["column"]) == ["age", "ml", "r_turn/r_e"]
    assert res["rho"][0] > 0.95 and res["p_value"][0] < 1e-10
    assert abs(res["rho"][1]) < 0.2 and res["p_value"][1] > 0.01
    assert np.isnan(res["rho"][2])  # r_turn / r_e is constant here
    assert np.all(res["n"] == 150)
    with pytest.raises(GalkinError, match="'missing'"):
        spearman_correlations(table, ["missing"])
    table["r_e"] = table["r_e"].value * u.km / u.s
    with pytest.raises(GalkinError, match="dimensionless"):
        spearman_correlations(table, ["r_turn/r_e"])


def test_correlation_with_tfr_residuals(reverse_fit):
    table = tfr_sample()
    # A property that tracks the residual from the fit, and one that does not.
    table["offset"] = reverse_fit.residuals
    table["other"] = np.random.default_rng(0).normal(size=len(table))
    res = spearman_correlations(table, ["offset", "other"], against=reverse_fit)
    assert res["rho"][0] == pytest.approx(1.0)
    assert abs(res["rho"][1]) < 0.2
    assert res["against"][0].startswith("reverse TFR residual")


# ----------------------------------------------------------------------------- figures
def test_figures_save_with_expected_artists(reverse_fit, tmp_path):
    import matplotlib.pyplot as plt

    path = tmp_path / "tfr.png"
    fig = plot_tully_fisher(reverse_fit, path=path)
    try:
        ax = fig.axes[0]
        gids = [a.get_gid() for a in ax.get_children() if a.get_gid()]
        assert gids.count("tfr-fit") == 1
        assert {"tfr-band-1sigma", "tfr-band-3sigma", "tfr-clipped", "tfr-points"} <= set(gids)
        assert sum(g.startswith("literature:") for g in gids) == 4
        clipped = next(a for a in ax.lines if a.get_gid() == "tfr-clipped")
        assert len(clipped.get_xdata()) == reverse_fit.n_clipped
        # The 1-sigma band spans +- rms about the line.
        band = next(c for c in ax.collections if c.get_gid() == "tfr-band-1sigma")
        ys = band.get_paths()[0].vertices[:, 1]
        xs = band.get_paths()[0].vertices[:, 0]
        assert np.ptp(ys - reverse_fit.predict(xs)) == pytest.approx(2 * reverse_fit.rms)
        assert path.stat().st_size > 10_000
    finally:
        plt.close(fig)
    fig = plot_tully_fisher_residuals(
        reverse_fit, against=np.arange(300), label="index", path=tmp_path / "res.png"
    )
    try:
        gids = [a.get_gid() for a in fig.axes[0].get_children() if a.get_gid()]
        assert {"tfr-zero", "tfr-band-1sigma", "tfr-clipped"} <= set(gids)
        assert fig.axes[0].get_xlabel() == "index"
    finally:
        plt.close(fig)
    assert plt.get_fignums() == []
