"""`Refinement`: what the refinement of one galaxy returns."""

from dataclasses import dataclass

import numpy as np


@dataclass
class Refinement:
    """The refined fit of one galaxy (decoder units, network grid).

    Attributes
    ----------
    names : tuple of str
        Fitted parameters: the profile parameters, ``inclination``, ``pa_offset``,
        the centre offsets ``x0``, ``y0`` and ``log_scale_height``.
    value : dict of str to float
        Best-fitting value of each parameter.
    covariance : `numpy.ndarray`
        ``(P, P)`` Laplace covariance in ``names`` order.
    start : dict of str to float
        Where the fit started (the network's estimate).
    amplitude, offset : float
        Closed-form moment-0 amplitude and moment-1 offset (normalised units).
    model0, model1 : `numpy.ndarray`
        Model maps on the network grid, amplitude, pedestal and offset applied.
    loss : float
        Unweighted mean-squared residual of both maps (the thesis's loss), each
        over the pixels the fit used (moment 0 without its centre, `CORE_BEAMS`).
    chi2 : tuple of float
        Reduced chi-square of moment 0 and moment 1 against the measured pixel
        errors, over the pixels the fit used (NaN where the maps carry none):
        above 1 the model does not describe the data to within their noise.
    jitter : tuple of float
        Fitted extra scatter of moment 0 and moment 1 (normalised units).
    correlation : tuple of float
        Correlation area of each map's residuals in network pixels: the
        likelihood counts one independent measurement per area.
    at_bound : tuple of str
        Parameters that ended at a bound of their range.
    converged : bool
        Whether the last step changed every parameter by less than 2% of its error.
    iterations : int
        Levenberg-Marquardt iterations run.
    pedestal : float
        Closed-form constant added to the moment-0 model (normalised units): the
        part of the data's moment 0 that no disc explains, e.g. the positive
        noise a cube's emission mask selects (0 for log-scale fits).
    fitted0 : `numpy.ndarray` of bool or None
        The pixels moment 0 was fitted on: the mask without its centre for a
        parametric profile (`CORE_BEAMS`); None means the whole mask.
    """

    names: tuple
    value: dict
    covariance: np.ndarray
    start: dict
    amplitude: float
    offset: float
    model0: np.ndarray
    model1: np.ndarray
    loss: float
    chi2: tuple
    jitter: tuple
    correlation: tuple
    at_bound: tuple
    converged: bool
    iterations: int
    pedestal: float = 0.0
    fitted0: np.ndarray | None = None

    def moment0_pixels(self, mask):
        """The pixels of ``mask`` (the fitted maps' mask) that moment 0 was fitted on."""
        mask = np.asarray(mask) > 0
        return mask if self.fitted0 is None else mask & self.fitted0

    def error(self, name):
        """1-sigma Laplace error of parameter ``name``."""
        k = self.names.index(name)
        return float(np.sqrt(max(self.covariance[k, k], 0.0)))
