"""The kinematic-model interface and what a model returns.

A model plugin (the SAE is the built-in one) turns prepared maps into samples of
the decoder parameters. :func:`galkin.fit` turns those into a
:class:`~galkin.result.FitResult`.
"""

import abc
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

__all__ = ["KinematicModel", "ModelOutput", "resolve_device"]


@dataclass
class ModelOutput:
    """One galaxy's fit in decoder units.

    Attributes
    ----------
    samples : dict of str to `numpy.ndarray`
        ``(T,)`` Monte-Carlo samples per parameter (decoder units).
    moment0, moment1 : `numpy.ndarray`
        Model maps on the network grid for the mean parameters, already scaled to
        the normalised data (amplitude and velocity offset applied).
    amplitude : float
        Moment-0 scale fitted in closed form (normalised units per Sigma(0)).
    velocity_offset : float
        Residual systemic-velocity offset fitted in closed form (normalised units).
    loss : float
        Masked mean-squared reconstruction error of the mean model.
    history : list of float
        Training loss per epoch (empty in blind mode).
    error_samples : dict of str to `numpy.ndarray`, optional
        Samples whose spread is the *calibrated* error of each parameter (decoder
        units), when the model provides one; otherwise the errors are the spread
        of ``samples``.
    refinement : `~galkin.refine.Refinement`, optional
        Set when the fit was refined by the physics (:mod:`galkin.refine`); its
        values then replace the model's, and it adds the disc centre.
    fallback : dict, optional
        Set when the requested intensity profile did not follow the galaxy's
        surface density and the fit was redone
        (``galkin.fit(..., intensity_fallback=True)``): ``"reason"``
        (``"profile_mismatch"``: refitted with a free profile;
        ``"truncated"``: with a sharp outer edge), ``"profile"`` (the profile
        that failed), ``"mismatch"`` (its :func:`~galkin.quality.profile_mismatch`),
        ``"refinement"`` (its fit) and, for ``"truncated"``, ``"evidence"`` (the
        refit's :func:`~galkin.refine.proxy.likelihood_ratio`).
    """

    samples: dict
    moment0: np.ndarray
    moment1: np.ndarray
    amplitude: float
    velocity_offset: float
    loss: float
    history: list = field(default_factory=list)
    error_samples: dict | None = None
    refinement: object = None
    fallback: dict | None = None


def resolve_device(device=None):
    """The torch device a model runs on: ``device``, else CUDA where there is one, else
    the CPU (the default of ``device=`` in `galkin.fit` and `galkin.fit_many`)."""
    if device is None:
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    return str(device)


class KinematicModel(abc.ABC):
    """A model that fits prepared maps.

    Subclasses set ``name`` and ``modes`` and implement :meth:`fit`.
    """

    #: Registry name, e.g. ``"sae"``.
    name: ClassVar[str]
    #: The fitting modes this model supports, e.g. ``("solo", "combined")``.
    modes: ClassVar[tuple]

    @abc.abstractmethod
    def fit(self, targets, *, mode, others=(), mc_samples=100, seed=None, **options):
        """Fit ``targets`` (list of `~galkin.preprocess.PreparedMaps`).

        Parameters
        ----------
        targets : list of PreparedMaps
            The galaxies to report on.
        mode : str
            One of the class attribute ``modes``.
        others : list of PreparedMaps, optional
            Extra training galaxies (combined mode).
        mc_samples : int, optional
            Monte-Carlo dropout samples per galaxy.
        seed : int, optional
        **options
            Model-specific options. A model whose ``fit`` takes ``maps`` is
            called with ``maps=False`` when its outputs only start the
            refinement (which replaces maps, amplitude, offset and loss): it may
            then skip decoding them and leave them None / NaN.

        Returns
        -------
        list of ModelOutput
            One per target, in order.
        """
