"""Beam convolution: the FFT path gives the direct sum's maps and gradients."""

import numpy as np
import pytest
import torch
from scipy import ndimage

from galkin.beam import FFT_MIN_KERNEL, _fast_length, beam_kernels, convolve


@pytest.mark.parametrize("k", [FFT_MIN_KERNEL - 2, FFT_MIN_KERNEL, 31])
def test_convolve_is_the_zero_padded_correlation(k):
    rng = np.random.default_rng(k)
    images = rng.normal(size=(3, 2, 40, 37))
    kernels = rng.random((3, 1, k, k))  # not symmetric: the orientation must be right
    out = convolve(torch.tensor(images), torch.tensor(kernels)).numpy()
    for b in range(3):
        for c in range(2):
            expected = ndimage.correlate(images[b, c], kernels[b, 0], mode="constant")
            np.testing.assert_allclose(out[b, c], expected, atol=1e-10 * np.abs(expected).max())


def test_fft_and_direct_gradients_agree():
    beams = torch.tensor([[0.06, 0.04, 0.3], [0.09, 0.09, 0.0]], dtype=torch.float64)
    steps = torch.eye(2, dtype=torch.float64) / 64
    kernels = beam_kernels(beams, steps)
    assert kernels.shape[-1] >= FFT_MIN_KERNEL  # a wide beam: the FFT path
    images = torch.rand(2, 3, 64, 64, dtype=torch.float64, requires_grad=True)
    (convolve(images, kernels) ** 2).sum().backward()
    fft_grad = images.grad.clone()
    images.grad = None
    weight = kernels.repeat_interleave(3, dim=0)
    direct = torch.nn.functional.conv2d(
        images.reshape(1, 6, 64, 64), weight, padding=kernels.shape[-1] // 2, groups=6
    )
    (direct**2).sum().backward()
    torch.testing.assert_close(fft_grad, images.grad, rtol=1e-9, atol=1e-12)


def test_fast_lengths_are_5_smooth_and_not_short():
    for n in range(1, 300):
        m = _fast_length(n)
        assert m >= n and m < 2 * n + 1
        for p in (2, 3, 5):
            while m % p == 0:
                m //= p
        assert m == 1


def test_a_kernel_does_not_depend_on_the_batch():
    """Each galaxy's kernel is its own 4-sigma ellipse, whatever the batch's largest beam."""
    steps = torch.eye(2, dtype=torch.float64) / 64
    small = torch.tensor([[1.5 / 64, 1.0 / 64, 0.3]], dtype=torch.float64)
    large = torch.tensor([[6.0 / 64, 4.0 / 64, 1.0]], dtype=torch.float64)
    alone = beam_kernels(small, steps)
    batch = beam_kernels(torch.cat([small, large]), steps)
    half, big = alone.shape[-1] // 2, batch.shape[-1] // 2
    assert half == 6 and big == 24
    crop = batch[0, 0, big - half : big + half + 1, big - half : big + half + 1]
    torch.testing.assert_close(crop, alone[0, 0])
    assert float(batch[0].sum()) == pytest.approx(1.0)
    # zero outside the ellipse: along the minor axis (at 0.3 rad) it ends at 4 px
    yy, xx = torch.meshgrid(torch.arange(-24, 25.0), torch.arange(-24, 25.0), indexing="ij")
    a = xx * np.cos(0.3) + yy * np.sin(0.3)
    b = -xx * np.sin(0.3) + yy * np.cos(0.3)
    inside = (a / 1.5) ** 2 + (b / 1.0) ** 2 <= 16
    assert bool((batch[0, 0][~inside] == 0).all()) and bool((batch[0, 0][inside] > 0).all())


@pytest.mark.parametrize("k", [5, 21])
def test_cropped_convolution_is_the_interior_of_the_full_one(k):
    """``convolve(..., crop=c)`` needs smaller transforms but gives the same interior."""
    rng = np.random.default_rng(3)
    images = torch.tensor(rng.normal(size=(2, 3, 40, 34)))
    kernels = torch.tensor(rng.random(size=(2, 1, k, k)))
    full = convolve(images, kernels)
    for crop in (0, k // 2, 7):
        cropped = convolve(images, kernels, crop=crop)
        torch.testing.assert_close(cropped, full[..., crop : 40 - crop, crop : 34 - crop])
