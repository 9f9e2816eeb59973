"""Refined fits as model outputs."""

import numpy as np

from .errors import posterior_draws
from .optimiser import refine


def refined_output(ref, samples, draws, history):
    """The `~galkin.model.ModelOutput` of a `Refinement` ``ref``: its maps, amplitude,
    offset and loss, with ``samples`` and the posterior ``draws`` as error samples."""
    from ..model import ModelOutput

    return ModelOutput(
        samples=samples,
        moment0=ref.model0,
        moment1=ref.model1,
        amplitude=ref.amplitude,
        velocity_offset=ref.offset,
        loss=ref.loss,
        history=list(history),
        error_samples=dict(draws),
        refinement=ref,
    )


def refine_outputs(prepared, outputs, space, **options):
    """Refine a model's outputs; returns new `~galkin.model.ModelOutput` objects.

    The refined values replace the network's: ``samples`` keep the network's
    Monte-Carlo-dropout spread (``_err_mc``) about the refined values, and
    ``error_samples`` are draws from the Laplace posterior (see :func:`refine`),
    widened by the systematic
    floors of `SYSTEMATIC_FLOOR` in quadrature. The maps, amplitude,
    offset and loss are the refined model's; ``refinement`` holds the
    `Refinement` record.

    Parameters
    ----------
    prepared : list of `~galkin.preprocess.PreparedMaps`
    outputs : list of `~galkin.model.ModelOutput`
        The model's fits of ``prepared``, in order.
    space : `~galkin.parameters.ParameterSpace`
    **options
        Passed to :func:`refine`.
    """
    names = space.names
    start = {n: np.array([np.mean(o.samples[n]) for o in outputs]) for n in names}
    prior = None
    if all(o.error_samples is not None for o in outputs):
        prior = {n: np.array([np.std(o.error_samples[n]) for o in outputs]) for n in names}
    refined = refine(prepared, start, space, prior_sigma=prior, **options)
    new = []
    for output, ref in zip(outputs, refined, strict=True):
        n_err = max(len(next(iter(output.samples.values()))), 200)
        draws = posterior_draws(ref, space, n_err)
        samples = {
            k: np.asarray(output.samples[k]) - np.mean(output.samples[k]) + ref.value[k]
            for k in names
        }
        new.append(refined_output(ref, samples, draws, output.history))
    return new
