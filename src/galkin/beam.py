"""Gaussian beam kernels on arbitrary (affine) pixel grids, in torch.

The beam is described in the decoder's (major, minor) frame, in field units, by
``(sigma_major, sigma_minor, angle)``; a pixel grid by the 2x2 matrix whose columns
are the (major, minor) steps of one pixel in x and y.  The kernel is the normalised
Gaussian evaluated at the grid's pixel offsets, so the same code serves the
network's square grid and the input's sky grid.
"""

import math

import torch

__all__ = ["beam_kernels", "convolve", "FFT_MIN_KERNEL"]


def beam_kernels(beams, steps, *, max_half=None, dtype=None, device=None):
    """Normalised beam kernels, one per galaxy.

    Parameters
    ----------
    beams : `torch.Tensor`
        ``(B, 3)``: sigma_major, sigma_minor (field units), angle (rad) of the
        major axis from the frame's major axis towards its minor axis.
    steps : `torch.Tensor`
        ``(B, 2, 2)`` or ``(2, 2)``: columns are the frame coordinates of a +1 pixel
        step in x and in y.
    max_half : int, optional
        Cap on the kernel half-size in pixels.

    Each galaxy's kernel is its beam inside its own 4-sigma ellipse, zero beyond
    (``e^-8`` of a Gaussian's weight lies outside), so a galaxy's kernel does not
    depend on the other galaxies of the batch; the array is as large as the
    largest.
    dtype, device : optional
        Default: those of ``beams`` when it is a tensor, else float32 on the CPU.

    Returns
    -------
    `torch.Tensor`
        ``(B, 1, K, K)`` kernels summing to one, K odd.
    """
    if dtype is None:
        dtype = beams.dtype if torch.is_tensor(beams) else torch.float32
    beams = torch.as_tensor(beams, dtype=dtype, device=device)
    steps = torch.as_tensor(steps, dtype=dtype, device=device)
    if steps.ndim == 2:
        steps = steps.expand(beams.shape[0], 2, 2)
    smaj, smin, ang = beams.unbind(-1)
    # Pixel size along its smallest direction, to size the kernel: each galaxy's
    # reaches 4 sigma (its own, whatever the others' in the batch), the array the
    # largest of them.
    pix = torch.linalg.svdvals(steps)[:, -1]
    own = torch.ceil(4.0 * smaj / pix).clamp_min(1)
    if max_half:
        own = own.clamp_max(max_half)
    half = int(own.max())
    r = torch.arange(-half, half + 1, dtype=dtype, device=device)
    dy, dx = torch.meshgrid(r, r, indexing="ij")
    # (B, K, K) frame coordinates of every kernel pixel.
    fu = steps[:, 0, 0, None, None] * dx + steps[:, 0, 1, None, None] * dy
    fw = steps[:, 1, 0, None, None] * dx + steps[:, 1, 1, None, None] * dy
    ca, sa = torch.cos(ang)[:, None, None], torch.sin(ang)[:, None, None]
    a = fu * ca + fw * sa  # along the beam's major axis
    b = -fu * sa + fw * ca
    q = (a / smaj[:, None, None]) ** 2 + (b / smin[:, None, None]) ** 2
    # the beam inside its own 4-sigma ellipse (e^-8 of its weight lies beyond), and
    # at least the centre pixel
    inside = (q <= 16.0 + 1e-9) & (torch.maximum(dx.abs(), dy.abs()) <= own[:, None, None])
    inside |= (dx == 0) & (dy == 0)
    k = torch.where(inside, torch.exp(-0.5 * q), 0.0)
    k = k / k.sum(dim=(-2, -1), keepdim=True)
    return k[:, None]


#: Kernels wider than this (pixels) are applied by FFT: the direct sum costs K^2
#: per pixel, the FFT a few log N (a 41-pixel kernel on a batch of 64 maps: 1.7 s
#: direct, 43 ms by FFT on one CPU core).
FFT_MIN_KERNEL = 13


def _fast_length(n):
    """The smallest 2^a 3^b 5^c >= n (FFT sizes that are quick to transform)."""
    best = 2 ** math.ceil(math.log2(n))
    three = 1
    while three < best:
        five = three
        while five < best:
            two = five
            while two < n:
                two *= 2
            best = min(best, two)
            five *= 5
        three *= 3
    return best


def convolve(images, kernels, crop=0):
    """Convolve ``(B, C, H, W)`` images, galaxy b with ``kernels[b]``; 'same' size, zero-padded.

    Small kernels are summed directly (a grouped ``conv2d``), larger ones
    (``FFT_MIN_KERNEL`` pixels and more) multiplied in Fourier space, zero-padded so that
    nothing wraps around: the same result to float precision, and differentiable
    either way. With ``crop``, only the output ``crop`` pixels or more from the
    edges is returned, ``(B, C, H - 2 crop, W - 2 crop)``: the transforms then
    need less padding (what would wrap around falls in the crop), a quarter to a
    half fewer points for the decoder's padded grids.
    """
    b, c, h, w = images.shape
    k = kernels.shape[-1]
    if k < FFT_MIN_KERNEL:
        weight = kernels.repeat_interleave(c, dim=0)  # (B*C, 1, K, K)
        out = torch.nn.functional.conv2d(
            images.reshape(1, b * c, h, w), weight, padding=k // 2, groups=b * c
        )
        out = out.reshape(b, c, h, w)
        return out[..., crop : h - crop, crop : w - crop]
    # 'same' output j is the full convolution's j + k // 2; the circular one of
    # length n equals it there while n >= (the full length) - (the first index kept)
    size = (_fast_length(h - crop + k // 2), _fast_length(w - crop + k // 2))
    # conv2d correlates: the flipped kernel makes the FFT's convolution the same sum
    product = torch.fft.rfft2(images, s=size) * torch.fft.rfft2(kernels.flip(-2, -1), s=size)
    full = torch.fft.irfft2(product, s=size)
    first = k // 2 + crop
    return full[..., first : k // 2 + h - crop, first : k // 2 + w - crop]
