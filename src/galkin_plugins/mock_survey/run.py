"""Running the thesis's Chapter 4 pipeline on a mock survey and comparing with the truth."""

import dataclasses
import time

import numpy as np
from astropy.table import QTable

import galkin
from galkin.exceptions import GalkinError

from .observe import MockSurvey
from .population import InjectedTFR

__all__ = ["MockSurveyResult", "run_mock_survey"]


@dataclasses.dataclass
class MockSurveyResult:
    """What :func:`run_mock_survey` found, next to the truth.

    Attributes
    ----------
    table : `~astropy.table.QTable`
        The fits joined with the catalogue, drift-corrected and cut.
    fit : `~galkin_plugins.science.TullyFisherFit`
        The reverse TFR of ``v_max_corrected``, at the injected pivot.
    relation : InjectedTFR
        The truth.
    seconds : dict
        Wall times: ``"fit"`` (``fit_many``), ``"science"`` (the post-processors).
    """

    table: QTable
    fit: object
    relation: InjectedTFR
    seconds: dict

    @property
    def slope_pull(self):
        """(fitted - injected slope) / fitted slope error."""
        return (self.fit.slope - self.relation.slope) / self.fit.slope_err

    @property
    def slope_recovered(self):
        """True when the injected slope lies within 2 sigma of the fit."""
        return bool(abs(self.slope_pull) <= 2.0)

    def summary(self):
        """A few lines: truth vs fit for slope, intercept and scatter, and the counts."""
        f, r = self.fit, self.relation
        status = np.asarray(self.table["status"]).astype(str)
        lines = [
            f"galaxies: {len(status)}; fitted {int((status == 'ok').sum())}, rejected "
            f"{int((status == 'rejected').sum())}, failed {int((status == 'failed').sum())}; "
            f"kept by the cuts {int(np.sum(self.table['keep']))}; in the TFR {f.n_used} "
            f"({f.n_clipped} clipped)",
            f"{'':10s}{'truth':>9s}{'fit':>9s}{'error':>8s}{'pull':>7s}",
        ]
        for label, truth, value, err in (
            ("slope", r.slope, f.slope, f.slope_err),
            ("intercept", r.intercept, f.intercept, f.intercept_err),
            ("scatter", r.scatter, f.scatter, f.scatter_err),
        ):
            pull = (value - truth) / err if err > 0 else np.nan
            lines.append(f"{label:10s}{truth:9.4f}{value:9.4f}{err:8.4f}{pull:+7.2f}")
        verdict = "within" if self.slope_recovered else "NOT within"
        lines.append(f"injected slope {verdict} 2 sigma of the fit (pull {self.slope_pull:+.2f})")
        return "\n".join(lines)


def run_mock_survey(
    survey,
    *,
    mode="blind",
    mc_samples=100,
    model="sae",
    progress=False,
    cuts=None,
    **fit_kwargs,
):
    """Load, fit, correct, cut and fit the TFR of a mock survey; compare with the truth.

    The thesis's Chapter 4 steps, each a registered galkin step:
    ``galkin.fit_many`` on the files (each read by `galkin.load` with the
    survey's cuts; rejected galaxies become rows), then the post-processors
    ``"join"`` (the catalogue, by survey id), ``"asymmetric_drift"``,
    ``"quality_cuts"`` (per survey, as the thesis cut SAMI and MaNGA
    separately) and ``"tully_fisher"`` (reverse form at the injected pivot).

    Parameters
    ----------
    survey : MockSurvey
        From :func:`make_mock_survey`.
    mode : str, optional
        Fitting mode of ``model``; refused with a GalkinError listing the
        available modes when the model lacks it.
    mc_samples : int, optional
        Monte-Carlo dropout samples per galaxy.
    model : str, optional
        The kinematic model (``galkin.list_models()``).
    progress : bool, optional
        Progress bar while fitting.
    cuts : dict, optional
        Options of the ``"quality_cuts"`` post-processor (default
        ``group_by="survey"``).
    **fit_kwargs
        Passed to ``galkin.fit_many`` and on to ``galkin.fit`` (``seed=``, ``device=``, ...).

    Returns
    -------
    MockSurveyResult

    Raises
    ------
    GalkinError
        When ``mode`` is unknown to the model, or every fit failed (e.g. blind
        mode without its pretrained weights: the error says how to get them).
    """
    if not isinstance(survey, MockSurvey):
        raise GalkinError(
            f"survey must be the MockSurvey that make_mock_survey returns; got "
            f"{type(survey).__name__}."
        )
    modes = tuple(galkin.get_model(model).modes)
    if mode not in modes:
        raise GalkinError(
            f"mode={mode!r} is not available for model {model!r} in this installation; "
            f"choose from {modes}."
        )
    start = time.perf_counter()
    table = galkin.fit_many(
        survey.files,
        names=survey.names,
        mode=mode,
        mc_samples=mc_samples,
        model=model,
        progress=progress,
        **fit_kwargs,
    )
    fitted = time.perf_counter()
    status = np.asarray(table["status"]).astype(str)
    if not np.any(status == "ok") and np.any(status == "failed"):
        first = str(table["error"][np.flatnonzero(status == "failed")[0]])
        raise GalkinError(
            f"Every fit failed (mode={mode!r}, model={model!r}); the first error: {first}"
        )
    step = galkin.get_postprocessor
    table = step("join")(survey.catalogue)(table)
    table = step("asymmetric_drift")()(table)
    table = step("quality_cuts")(**({"group_by": "survey"} | (cuts or {})))(table)
    fit = step("tully_fisher")("reverse", pivot=survey.relation.pivot)(table)
    seconds = {"fit": fitted - start, "science": time.perf_counter() - fitted}
    return MockSurveyResult(table=table, fit=fit, relation=survey.relation, seconds=seconds)
