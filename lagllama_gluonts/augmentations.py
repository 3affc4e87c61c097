"""Frequency-domain augmentations used when training Lag-Llama (FrAug, Chen et al. 2023).

Both act on a training window (past and future together), in the frequency domain of a
real FFT along time, and return the two parts with their original lengths.
"""

from __future__ import annotations

from typing import Optional, Tuple

import torch


def _spectrum(past: torch.Tensor, future: torch.Tensor) -> Tuple[torch.Tensor, int]:
    window = torch.cat((past, future), dim=1)
    return torch.fft.rfft(window, dim=1), window.shape[1]


def _back(spectrum: torch.Tensor, length: int, past_length: int):
    window = torch.fft.irfft(spectrum, n=length, dim=1)
    return window[:, :past_length], window[:, past_length:]


@torch.no_grad()
def freq_mask(
    past: torch.Tensor, future: torch.Tensor, rate: float = 0.1, generator: Optional[torch.Generator] = None
) -> Tuple[torch.Tensor, torch.Tensor]:
    """Zero a random ``rate`` fraction of the frequency components of each window."""
    spec, length = _spectrum(past, future)
    drop = torch.rand(spec.shape, generator=generator, device=spec.device) < rate
    return _back(spec.masked_fill(drop, 0), length, past.shape[1])


@torch.no_grad()
def freq_mix(
    past: torch.Tensor,
    future: torch.Tensor,
    rate: float = 0.1,
    keep_dominant: int = 3,
    generator: Optional[torch.Generator] = None,
) -> Tuple[torch.Tensor, torch.Tensor]:
    """Replace a random ``rate`` fraction of each window's frequency components by those
    of another window of the batch, never touching its ``keep_dominant`` strongest ones.

    The reference meant to protect the dominant components but compared the sort
    permutation's values (frequency indices) instead of ranks, which protects the three
    lowest frequencies instead; we protect the strongest by amplitude as intended.
    """
    spec, length = _spectrum(past, future)
    mix = torch.rand(spec.shape, generator=generator, device=spec.device) < rate
    rank = spec.abs().argsort(dim=1, descending=True).argsort(dim=1)
    mix &= rank >= keep_dominant
    partner = torch.randperm(past.shape[0], generator=generator, device=past.device)
    partner_spec, _ = _spectrum(past[partner], future[partner])
    mixed = torch.where(mix, partner_spec, spec)
    return _back(mixed, length, past.shape[1])
