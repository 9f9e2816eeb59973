"""Settings of the refinement: its extra parameters, priors, likelihood and optimiser."""

import numpy as np
import torch

#: Extra parameters the refinement fits: the disc centre's offset from the map
#: centre along the network's (major, minor) axes, in field units.
CENTER_NAMES = ("x0", "y0")
#: Bound on each centre offset (field units).
CENTER_BOUND = 0.15
#: Prior width of each centre offset (field units).
CENTER_PRIOR = 0.03
#: The disc's thickness: the natural log of its exponential scale height (field units).
HEIGHT_NAME = "log_scale_height"
#: Bounds of the scale height (field units): from a razor-thin disc to a thick one.
HEIGHT_BOUNDS = (0.002, 0.15)
#: Prior width of ``log_scale_height`` about the decoder's default (a factor e).
HEIGHT_PRIOR = 1.0
#: Degrees of freedom of the Student-t residuals (small: heavy tails).
NU = 4.0
#: The network's calibrated error is widened by this factor to make the prior.
PRIOR_WIDTH = 10.0
#: Systematic error floors added in quadrature to the Laplace errors: the disc
#: model's own mismatch with real discs (finite thickness, non-circular gas
#: motions, the moments' beam smearing) that no amount of signal removes. Angles
#: in radians (inclination 0.75 deg, position angle 0.15 deg); ``v_max`` as a
#: fraction of its value (1.5%). Measured on the independent simulator's
#: ``hard`` set (``benchmarks/bench_referee.py``), where they bring the 68%
#: intervals to 60-70% coverage; the ``hard --noise beam``, ``thin`` and
#: ``noiseless`` sets validate them.
SYSTEMATIC_FLOOR = {
    "inclination": np.radians(0.75),
    "pa_offset": np.radians(0.15),
    "v_max": ("relative", 0.015),
}
#: Finite-difference step, as a fraction of each parameter's range.
_FD_STEP = 1e-4
#: Largest lag (network pixels) summed in a residual map's correlation area.
_MAX_LAG = 12
#: Decoder maps rendered at once (bounds the memory of large batches).
_CHUNK = 48
#: Precision of the decoder passes (the residuals, normal equations and
#: covariances are double precision).
_RENDER_DTYPE = torch.float32
#: Galaxies whose exact derivatives are rendered at once (each holds one map
#: per parameter and line-of-sight node).
_CHUNK_EXACT = 4
#: Trial steps per iteration, each with five times the damping of the last.
_ATTEMPTS = 6
#: A galaxy has converged when a step moves every parameter by less than this
#: fraction of its error (moves below a tenth of the error change no reported digit
#: that matters, and each iteration costs a decoder pass per parameter).
_CONVERGED = 0.1
