"""Prove the tanh profile works with galkin: the contract suite, plus its physics."""

import math

import torch
from galkin.testing import BaseTestVelocityProfile

from galkin_example_profile import TanhProfile


class TestTanhProfile(BaseTestVelocityProfile):
    profile_class = TanhProfile


def test_tanh_values():
    radius = torch.tensor([0.0, 0.1, 1e3], dtype=torch.float64)
    out = TanhProfile().evaluate(
        radius, v_flat=torch.tensor(2.0, dtype=torch.float64), r_t=torch.tensor(0.1)
    )
    expected = torch.tensor([0.0, 2.0 * math.tanh(1.0), 2.0], dtype=torch.float64)
    torch.testing.assert_close(out, expected)
