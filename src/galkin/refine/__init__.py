"""Refinement by the physics: fit the decoder to a galaxy's own maps.

A network's estimate depends on what it learnt to read in maps like its
training set; on data it did not see (another simulator, a real telescope) it
can be biased. Refinement starts from that estimate and fits the analytic
decoder's physical parameters directly to the galaxy's normalised maps, so the
answer rests on the data and the disc model only. Galaxies are refined together
in batches.

The fit
-------
Besides the profile parameters, the inclination and the position-angle offset,
the refinement fits the disc's centre (``x0``, ``y0``: offsets along the
network's major and minor axes) and its thickness (``log_scale_height``), which
a thick disc's rounder isophotes would otherwise turn into a wrong inclination.
The thickness has a broad prior (a factor e^2 either way) about 0.12 of the disc's
scale length (`HEIGHT_PER_SCALE_LENGTH`, from edge-on galaxies), so that where
the maps do not constrain it a large disc is not assumed as thin as a small one.

Each map is compared with the beam-smeared model through a robust likelihood:
the residual of pixel ``k`` is ``(model_k - data_k) / j``, where the scatter
``j`` is fitted per galaxy and map -- noise and the model's mismatch
(non-circular motions, arms and rings an axisymmetric model lacks) together.
Residuals follow a Student-t distribution with `NU` degrees of freedom, so that
the outliers noisy masks leave at the edge of real maps (and noisy pixels in
general) do not drag the fit. The moment-0 amplitude and the
systemic-velocity offset are solved in closed form (weighted least squares)
for every model.

Moment 0 is modelled as the disc plus a constant *pedestal*, also solved in
closed form (`Refinement.pedestal`). A moment-0 map made through an emission
mask is not the disc's light plus zero-mean noise: the mask keeps the voxels
whose noise happened to be positive where the emission is faint (on KinMS cubes
at S/N 8-30 the masked moment 0 sits +0.2 sigma above the noiseless one on
average), and real maps add backgrounds. Read as disc light, that near-constant
excess makes the outer isophotes rounder: the inclination came out 1-3 deg too
low for thick discs at S/N ~ 10, a bias that more channels in the mask (more
noise) made worse and that disappeared without noise. The pedestal takes it
(the ``hard`` set's median inclination bias went from -0.87 to -0.08 deg).

A parametric intensity profile is fitted to moment 0 *outside its centre*:
pixels within one beam FWHM of the map's centre (`CORE_BEAMS`) leave the
moment-0 likelihood (moment 1 keeps them), unless that would drop half of the
galaxy's pixels. The centre of a moment-0 map is mostly beam, and its shape --
a cusp, a core, a bulge, a bar, a central hole -- is what a smooth profile
describes worst; the disc's thickness is the one parameter that can reshape
it, and at low inclination a thicker disc is matched by a more inclined one.
Where moment 0 carries most of the weight (S/N below ~30, where moment 1 is
relatively noisier) the inclination followed the centre: 3D-Barolo GALMOD
discs, whose one-pixel rings flatten the exponential's central cusp by 0.3%
of the peak, came out +0.5 deg too inclined on average and +1.7 deg at
inclinations of 24-29 deg, with 38% of the errors covering the truth. Without
the centre: +0.1 deg, 70% (``benchmarks/bench_referee.py --set hard
--simulator galmod``). Photometric inclinations are read from the outer
isophotes for the same reason.

The pixels' measured errors (``KinematicMaps.moment1_err``, propagated
from the cube's noise) give the reduced chi-square that says whether the
model describes the data to within their noise (`Refinement.chi2`), but they
do not weight the fit: on simulated cubes, weighting by them biased V_max by up
to 20% -- it hands the fit to the bright inner pixels, whose formal errors are
small but where the beam-smeared model's mismatch is largest, and takes it away
from the faint outer disc whose flat rotation pins V_max.

The optimiser is Levenberg-Marquardt with iteratively re-weighted least squares
(the Student-t weights and jitters are updated every iteration), the Jacobian
from one decoder pass for the whole batch
(`~galkin.decoder.DiscDecoder.derivatives` with ``geometry=True``: the exact
derivatives of the quadrature sums, integrand and moving nodes, with respect
to every parameter; the nuisance amplitude, pedestal and offset follow in
closed form). The decoder passes run in single precision (2.5x faster on
a CPU; the fitted values move by < 0.04 deg and 0.03% of V_max, far inside their
errors), the normal equations and covariances in double. Parameters stay inside their
bounds; one that ends at a bound is reported (`Refinement.at_bound`).

Prior and errors
----------------
The network's estimate enters as a broad Gaussian prior (its calibrated error
times `PRIOR_WIDTH`), which only matters where the maps do not constrain a
parameter. The error of the refined parameters is the Laplace approximation:
the inverse curvature of the negative log-posterior. Neighbouring pixels are
not independent -- the beam correlates the noise, and a model's mismatch is
correlated over whole features -- so each map's likelihood counts one
measurement per *correlation area* of its residuals (`Refinement.correlation`,
measured from the residuals' autocorrelation, never less than one pixel).
Where residuals exceed the noise, or are correlated over large areas, the
errors widen: model mismatch and unfamiliar data show in the error bars. Floors
for the disc model's own systematics (`SYSTEMATIC_FLOOR`) are added in
quadrature.
"""

from .constants import (
    CENTER_BOUND,
    CENTER_NAMES,
    CORE_BEAMS,
    CORE_MIN_KEPT,
    HEIGHT_BOUNDS,
    HEIGHT_NAME,
    HEIGHT_PER_SCALE_LENGTH,
    NU,
    PEDESTAL_RIDGE,
    PRIOR_WIDTH,
    SYSTEMATIC_FLOOR,
)
from .errors import posterior_draws
from .optimiser import refine
from .outputs import refine_outputs
from .record import Refinement

__all__ = [
    "Refinement",
    "refine",
    "refine_outputs",
    "posterior_draws",
    "CENTER_NAMES",
    "CENTER_BOUND",
    "CORE_BEAMS",
    "CORE_MIN_KEPT",
    "HEIGHT_NAME",
    "HEIGHT_BOUNDS",
    "HEIGHT_PER_SCALE_LENGTH",
    "NU",
    "PEDESTAL_RIDGE",
    "PRIOR_WIDTH",
    "SYSTEMATIC_FLOOR",
]
