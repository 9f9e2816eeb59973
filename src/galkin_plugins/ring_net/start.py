"""The ring network as a ring-start estimator (``ring_start="amortised"``)."""

from galkin.ring_start import RingStart

from .pretrained import predict_speeds

__all__ = ["AmortisedRingStart"]


class AmortisedRingStart(RingStart):
    """Ring speeds from the amortised ring network, in milliseconds.

    The network (`~galkin_plugins.ring_net.network.RingNetwork`, shipped
    weights ``ring-net.pt``) gives ``V sin i`` at 16 fixed radii and the
    inclination; the curve through the speeds (the ``rings`` velocity
    profile's smooth interpolation, with ``V(0) = 0``) starts each galaxy's
    rings.

    Parameters
    ----------
    weights : str or `pathlib.Path`, optional
        Another weights file (from ``scripts/train_ring_net.py``).
    use_inclination : bool, optional
        Start the fit at the ring network's inclination (default) rather than
        the blind SAE's.
    """

    name = "amortised"

    def __init__(self, *, weights=None, use_inclination=True):
        self.weights = weights
        self.use_inclination = bool(use_inclination)

    def predict(self, prepared):
        """The network's curves (a ``rings`` velocity profile at its radii, and the
        speeds) and inclinations."""
        from galkin_plugins.profiles.rings import RingsVelocityProfile

        radii, speeds, inclination = predict_speeds(prepared, path=self.weights)
        profile = RingsVelocityProfile(knots=radii)
        values = {n: speeds[:, k] for k, n in enumerate(profile.parameter_names())}
        geometry = {"inclination": inclination} if self.use_inclination else {}
        return profile, values, geometry
