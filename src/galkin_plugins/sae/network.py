"""The SAE network: two encoders, the parameter mapping and the analytic decoder."""

import torch
from torch import nn

from galkin.decoder import DiscDecoder
from galkin.loss import reconstruction_loss
from galkin.parameters import ParameterSpace

from .encoder import SAEEncoder

__all__ = ["SAENetwork", "BEAM_FEATURES"]

#: Length of :meth:`SAENetwork.beam_descriptor`.
BEAM_FEATURES = 4


class SAENetwork(nn.Module):
    """Moment maps -> physical parameters -> reconstructed moment maps.

    Parameters
    ----------
    intensity, velocity : DecoderProfile
        Profile instances.
    size : int, optional
    dropout : float, optional
    scale_height : float, optional
        Disc scale height in field units (see `~galkin.decoder.DiscDecoder`).
    aleatoric : bool, optional
        Give both encoders a log-variance head (see `SAEEncoder`).
    beam_input : bool, optional
        Tell both encoders the beam (:meth:`beam_descriptor`), so that a
        beam-rounded disc is not read as a less inclined one (``scripts/
        train_sae_blind.py --beam-input``; the shipped blind weights do not use it
        yet). Solo networks do not need it: they fit one beam.

    Attributes
    ----------
    moment0_scale : {"linear", "log"}
        How the loss compares moment 0 (see `~galkin.loss.reconstruction_loss`); set
        from ``TrainingConfig.moment0_scale`` when training.
    """

    moment0_scale = "linear"

    def __init__(
        self,
        intensity,
        velocity,
        *,
        size=64,
        dropout=0.1,
        scale_height=1 / 64,
        aleatoric=False,
        beam_input=False,
    ):
        super().__init__()
        self.space = ParameterSpace(intensity, velocity)
        self.size = size
        self.aleatoric = aleatoric
        self.beam_input = bool(beam_input)
        options = dict(
            size=size,
            dropout=dropout,
            aleatoric=aleatoric,
            extra_features=BEAM_FEATURES if self.beam_input else 0,
        )
        self.encoder0 = SAEEncoder(len(self.space.moment0_names), **options)
        self.encoder1 = SAEEncoder(len(self.space.moment1_names), **options)
        self.decoder = DiscDecoder(intensity, velocity, scale_height=scale_height)
        step = 1.0 / size
        c = (size - 1) / 2.0
        self.register_buffer("_origin", torch.tensor([-c * step, -c * step]), persistent=False)
        self.register_buffer("_steps", torch.eye(2) * step, persistent=False)

    @staticmethod
    def inputs(m0, m1, mask):
        """Stack maps and mask into the two encoders' ``(B, 2, H, W)`` inputs."""
        return torch.stack([m0, mask], 1), torch.stack([m1, mask], 1)

    @staticmethod
    def beam_descriptor(beams):
        """``(B, 3)`` beams (sigma_major, sigma_minor, angle; field units) -> ``(B, 4)``.

        Both widths and the elongation's orientation as ``cos 2 angle`` and
        ``sin 2 angle`` times ``sigma_major - sigma_minor`` (continuous through a
        round beam), scaled so that a beam of 1/8 of the field reads ~1.
        """
        smaj, smin, angle = beams[:, 0], beams[:, 1], beams[:, 2]
        elong = smaj - smin
        return 20.0 * torch.stack(
            [smaj, smin, elong * torch.cos(2 * angle), elong * torch.sin(2 * angle)], 1
        )

    def features(self, x0, x1, beams=None):
        """Deterministic trunk features of both encoders (``beams`` when ``beam_input``)."""
        extra = None
        if self.beam_input:
            if beams is None:
                raise ValueError("this network reads the beam: pass beams to features().")
            extra = self.beam_descriptor(beams)
        return self.encoder0.features(x0, extra), self.encoder1.features(x1, extra)

    def heads(self, f0, f1, *, sample=False):
        """Bounded outputs -> dict of decoder-unit parameters."""
        return self.space.from_unit(self.space.names, self.unit_outputs(f0, f1, sample=sample))

    def unit_outputs(self, f0, f1, *, sample=False):
        """Both heads' bounded outputs, ``(B, n_parameters)`` in ``self.space`` name order."""
        return torch.cat(
            [self.encoder0.head(f0, sample=sample), self.encoder1.head(f1, sample=sample)], -1
        )

    def log_variance(self, f0, f1):
        """Aleatoric log-variances, ``(B, n_parameters)`` in output units."""
        return torch.cat([self.encoder0.aleatoric(f0), self.encoder1.aleatoric(f1)], -1)

    def decode(self, params, beams=None, support=None):
        """Model maps on the network grid for decoder-unit ``params``.

        ``support`` (a mask, ``(B, H, W)``): render only what its pixels need
        (`~galkin.decoder.DiscDecoder.forward`); the maps are not meaningful elsewhere.
        """
        b = params["inclination"].shape[0]
        return self.decoder(
            params,
            params["inclination"],
            self._origin.expand(b, 2),
            self._steps.expand(b, 2, 2),
            (self.size, self.size),
            pa_offset=params["pa_offset"],
            beams=beams,
            support=support,
        )

    def forward(self, m0, m1, mask, beams=None):
        """Return ``(loss per galaxy, params, amplitude, offset, model0, model1)``.

        The model maps are rendered only where the loss reads them (``mask``).
        """
        x0, x1 = self.inputs(m0, m1, mask)
        params = self.heads(*self.features(x0, x1, beams))
        model0, model1 = self.decode(params, beams, support=mask > 0)
        loss, amp, off = reconstruction_loss(
            m0, m1, mask, model0, model1, moment0_scale=self.moment0_scale
        )
        return loss, params, amp, off, model0, model1
