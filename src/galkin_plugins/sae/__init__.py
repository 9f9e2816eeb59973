"""Built-in plugin: the self-supervised physics-aware autoencoder (SAE)."""

from galkin.hookspecs import hookimpl

from .model import SAE

__all__ = ["SAE"]


@hookimpl
def galkin_register_models():
    return [SAE]
