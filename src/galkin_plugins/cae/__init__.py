"""The convolutional autoencoder (CAE) of thesis Chapter 2.

Embeds 64x64 moment-one maps in a 3-D latent space whose folded radius separates
regular rotators (``kappa > 0.5``) from disturbed gas and whose angle gives the
position angle. It is not a `~galkin.model.KinematicModel` (it fits no decoder
parameters); it registers as a classifier, which :func:`galkin.classify` uses.
"""

from galkin.hookspecs import hookimpl

from .classifier import CAEClassifier
from .network import ARCHITECTURE, ConvAutoencoder
from .weights import DEFAULT_WEIGHTS, load_weights, save_weights

__all__ = [
    "ARCHITECTURE",
    "CAEClassifier",
    "ConvAutoencoder",
    "DEFAULT_WEIGHTS",
    "load_weights",
    "save_weights",
]


@hookimpl
def galkin_register_classifiers():
    """Register :class:`CAEClassifier` as ``"cae"``."""
    return [CAEClassifier]
