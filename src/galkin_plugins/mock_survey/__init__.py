r"""A mock MaNGA + SAMI survey with a known Tully-Fisher relation, end to end.

:func:`make_mock_survey` draws a galaxy population whose circular speeds follow
an injected reverse Tully-Fisher relation (TFR),

.. math:: \log_{10} V_c = m\,(\log_{10} M_\star - p) + c + \mathcal{N}(0, \epsilon),

simulates each galaxy's Halpha disc with :func:`galkin.simulate_cube` and
:func:`galkin.io.cube.maps_from_cube`, and writes MaNGA DAP MAPS files and SAMI map
files (:mod:`galkin_plugins.surveys.writers`) with a user catalogue.
:func:`run_mock_survey` then runs the thesis's Chapter 4 pipeline on the files:
``galkin.fit_many`` (each file read by ``galkin.load``) -> join the catalogue ->
asymmetric drift -> quality cuts -> LtsFit TFR, and compares with the truth.

The population
--------------
* ``log M*`` uniform in ``log_mstar_range``; the catalogue mass carries a
  Gaussian error of ``mass_err`` (0.1 dex, typical of SED masses), quoted in
  ``log_mstar_err``.
* Sizes from a size-mass relation, ``log10(r_e / kpc) = 0.22 (log M* - 10) + 0.6``
  with 0.12 dex scatter; the angular ``r_e`` is drawn log-normal (0.15 dex) about
  5" for MaNGA and 4" for SAMI (kept within 1.5-9"), and the redshift follows
  from the angular-diameter distance (Planck18), as an IFU survey selects
  galaxies to fill its bundles.  The Halpha
  disc is exponential with scale length ``r_scale = r_e / 1.678`` (x 0.05 dex
  scatter); the arctan rotation curve turns over at 0.2-0.8 ``r_scale``.
* Random orientations: ``cos i`` uniform (i up to 85 deg, about 13% below the
  30 deg cut), position angle uniform.
* Gas dispersion 15-30 km/s (isotropic), capped so that the rotation keeps at
  least ``1/sqrt(2)`` of the circular speed (see below).

The physics of V_max and asymmetric drift
-----------------------------------------
The simulator moves gas particles on circles at the arctan speed ``V(R)`` with an
isotropic Gaussian dispersion ``sigma``: it is a tracer model, not a dynamical
one, so the circular speed ``V_c`` is whatever the mock declares.  The injected
TFR is for ``V_c``, the quantity thesis Eq. 4.4 estimates. Each galaxy's gas is
made to rotate slower by exactly the asymmetric drift that Eq. 4.4 would add
back at the radius where the pipeline evaluates it,

.. math::

    V_{\rm rot}^2 = V_c^2 - \sigma^2\left(2\,\frac{R_d}{r_{\rm scale}} - 1\right),

where ``R_d`` is the predicted ``r_max``: the 98th percentile of the
de-projected radius of the spaxels expected to pass the S/N >= 10 cut inside the
bundle (``FitResult.r_max``'s definition, with the true geometry).  The fitted
``v_max`` therefore estimates ``V_rot`` and the drift-corrected
``v_max_corrected`` estimates ``V_c``: fitting the TFR to ``v_max`` instead
gives a steeper slope (the correction is largest for slow rotators).  Residual
systematics the mock keeps on purpose: the measured dispersion is the moment-2
width of the beam-smeared cube (larger than ``sigma`` near the centre) and, for
MaNGA, noisy widths below the instrumental one are blanked by the adapter.

The observations
----------------
* MaNGA: 0.5" spaxels; the smallest fibre bundle (12.5"-32.5" hexagons, maps
  34-74 spaxels) reaching 1.5 ``r_e``; PSF FWHM 2.5" +- 0.15"; instrumental
  dispersion 65-72 km/s (``EMLINE_INSTSIGMA``), the observed width being
  ``sqrt(sigma^2 + (1.045 INSTSIGMA)^2)`` as the thesis's LSF correction assumes.
* SAMI: 50 x 50 spaxels of 0.5", a 7.5"-radius bundle, seeing 1.6"-2.6", the
  dispersion written instrument-corrected (as LZIFU's fits are).
* Noise: the flux error is constant over a galaxy and set so that S/N = 10 on
  the major axis at 2.5-4.5 ``r_scale``; velocity and width errors scale as the
  observed width over the S/N (``sqrt(2) sigma_obs / (S/N)`` and
  ``sigma_obs / (sqrt(2) S/N)``) and are drawn into the maps and written as
  IVAR / error maps.
"""

from .observe import MockSurvey, load_mock_survey, make_mock_survey
from .population import MANGA_BUNDLES, SAMI_BUNDLE, THESIS_TFR, InjectedTFR, draw_population
from .run import MockSurveyResult, run_mock_survey

__all__ = [
    "InjectedTFR",
    "THESIS_TFR",
    "MANGA_BUNDLES",
    "SAMI_BUNDLE",
    "draw_population",
    "MockSurvey",
    "make_mock_survey",
    "load_mock_survey",
    "MockSurveyResult",
    "run_mock_survey",
]
