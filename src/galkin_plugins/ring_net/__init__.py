"""Built-in plugin: the amortised ring network, ring speeds in milliseconds.

Registers the ring-start estimator ``"amortised"``
(``galkin.fit(cube, velocity="rings", intensity="rings", ring_start="amortised")``).
"""

from galkin.hookspecs import hookimpl

from .start import AmortisedRingStart

__all__ = ["AmortisedRingStart", "galkin_register_ring_starts"]


@hookimpl
def galkin_register_ring_starts():
    """Register the amortised ring network."""
    return [AmortisedRingStart]
