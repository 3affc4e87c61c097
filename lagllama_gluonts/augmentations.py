"""Augmentations used when training Lag-Llama.

Frequency masking and mixing (FrAug, Chen et al. 2023), the ones Lag-Llama's paper trains with,
act on a training window (past and future together) in the frequency domain of a real FFT along
time and return the two parts with their original lengths. The reference's eight time-domain
augmentations (:class:`Augmentations`) follow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from functools import partial
from typing import Any, Callable, List, Mapping, Optional, Sequence, Tuple

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


# --------------------------------------------------------------------------- the reference's other eight
#
# Jitter, scaling, rotation, permutation, magnitude warp, time warp, window slice and window warp,
# with the reference's parameter names and defaults (its ``data/augmentations``, after the
# ``ts_embeddings`` augmentations of GluonTS's nursery), written here in torch: batched where
# the operation allows, seeded by an optional ``torch.Generator``. Each takes and returns a
# (batch, time) window in the data's units, as the reference applies them to the raw target.


def _uniform(shape, generator, device) -> torch.Tensor:
    return torch.rand(shape, generator=generator, device=device)


def _normal(shape, mean: float, std: float, generator, device) -> torch.Tensor:
    return mean + std * torch.randn(shape, generator=generator, device=device)


def interp(x: torch.Tensor, xp: torch.Tensor, fp: torch.Tensor) -> torch.Tensor:
    """``numpy.interp`` row by row: ``fp`` (B, N) given at increasing ``xp`` (B, N), read at ``x`` (B, M)."""
    x = x.contiguous()
    xp = xp.contiguous()
    right = torch.searchsorted(xp, x).clamp(1, xp.shape[1] - 1)
    left = right - 1
    x0, x1 = xp.gather(1, left), xp.gather(1, right)
    y0, y1 = fp.gather(1, left), fp.gather(1, right)
    weight = ((x - x0) / (x1 - x0).clamp_min(1e-12)).clamp(0.0, 1.0)
    return y0 + weight * (y1 - y0)


def smooth_curves(knots: torch.Tensor, length: int) -> torch.Tensor:
    """Natural cubic splines through ``knots`` (B, K) at evenly spaced points of [0, length - 1], read at
    every integer step: (B, length). (The reference uses scipy's ``CubicSpline``; any smooth
    interpolant serves an augmentation, and this one needs nothing beyond torch.)"""
    B, K = knots.shape
    h = (length - 1) / (K - 1)
    # second derivatives M of the natural spline: M_0 = M_{K-1} = 0, tridiagonal system inside
    system = torch.zeros(K, K, dtype=knots.dtype, device=knots.device)
    system[0, 0] = system[-1, -1] = 1.0
    for i in range(1, K - 1):
        system[i, i - 1], system[i, i], system[i, i + 1] = h / 6, 2 * h / 3, h / 6
    rhs = torch.zeros_like(knots)
    rhs[:, 1:-1] = (knots[:, 2:] - 2 * knots[:, 1:-1] + knots[:, :-2]) / h
    second = torch.linalg.solve(system, rhs.T).T  # (B, K)
    t = torch.arange(length, dtype=knots.dtype, device=knots.device)
    segment = (t / h).floor().clamp(max=K - 2).long()
    a = (segment + 1) * h - t  # distance to the right knot
    b = t - segment * h  # distance to the left knot
    y0, y1 = knots[:, segment], knots[:, segment + 1]
    m0, m1 = second[:, segment], second[:, segment + 1]
    return (m0 * a**3 + m1 * b**3) / (6 * h) + (y0 / h - m0 * h / 6) * a + (y1 / h - m1 * h / 6) * b


def jitter(x: torch.Tensor, sigma: float = 0.03, generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Add Gaussian noise of standard deviation ``sigma`` to every value."""
    return x + _normal(x.shape, 0.0, sigma, generator, x.device)


def scaling(x: torch.Tensor, sigma: float = 0.1, generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Multiply each series by one factor drawn from N(1, sigma)."""
    return x * _normal((x.shape[0], 1), 1.0, sigma, generator, x.device)


def rotation(x: torch.Tensor, generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Flip the sign of each series with probability 1/2 (for one variable, the reference's
    rotation is a sign flip: its shuffle of the variables has nothing to shuffle)."""
    flip = _uniform((x.shape[0], 1), generator, x.device) < 0.5
    return torch.where(flip, -x, x)


def permutation(
    x: torch.Tensor, max_segments: int = 5, seg_mode: str = "equal", generator: Optional[torch.Generator] = None
) -> torch.Tensor:
    """Cut each series into 1 to ``max_segments - 1`` segments (as the reference draws them) and
    put the segments in a random order; ``seg_mode`` "equal" cuts equal lengths, "random" at random points."""
    if seg_mode not in ("equal", "random"):
        raise ValueError(f'permutation_seg_mode must be "equal" or "random", got {seg_mode!r}')
    B, T = x.shape
    out = x.clone()
    counts = torch.randint(1, max(2, max_segments), (B,), generator=generator)
    for i in range(B):
        n = int(counts[i])
        if n < 2 or T < 3:
            continue
        if seg_mode == "random":
            cuts = (torch.randperm(T - 2, generator=generator)[: n - 1] + 1).sort().values.tolist()
        else:
            cuts = [round(k * T / n) for k in range(1, n)]
        bounds = [0, *cuts, T]
        pieces = [torch.arange(bounds[k], bounds[k + 1]) for k in range(n)]
        order = torch.randperm(n, generator=generator).tolist()
        out[i] = x[i, torch.cat([pieces[k] for k in order]).to(x.device)]
    return out


def magnitude_warp(
    x: torch.Tensor, sigma: float = 0.2, knot: int = 4, generator: Optional[torch.Generator] = None
) -> torch.Tensor:
    """Multiply each series by a smooth random curve through ``knot + 2`` points drawn from N(1, sigma)."""
    knots = _normal((x.shape[0], knot + 2), 1.0, sigma, generator, x.device)
    return x * smooth_curves(knots, x.shape[1]).to(x.dtype)


def time_warp(
    x: torch.Tensor, sigma: float = 0.2, knot: int = 4, generator: Optional[torch.Generator] = None
) -> torch.Tensor:
    """Resample each series along a smooth random distortion of its time axis (speeds from N(1, sigma)
    at ``knot + 2`` points), stretched to keep its first and last step."""
    B, T = x.shape
    if T < 2:
        return x.clone()
    steps = torch.linspace(0, T - 1, knot + 2, device=x.device, dtype=torch.float64)
    knots = steps * _normal((B, knot + 2), 1.0, sigma, generator, x.device).double()
    warped = smooth_curves(knots, T)
    warped = warped * (T - 1) / warped[:, -1:].clamp_min(1e-6)
    # a time axis runs forward: the running maximum keeps the distortion monotone
    warped = torch.cummax(warped.clamp(0, T - 1), dim=1).values
    grid = torch.arange(T, dtype=torch.float64, device=x.device).expand(B, T)
    return interp(grid, warped, x.double()).to(x.dtype)


def window_slice(
    x: torch.Tensor, reduce_ratio: float = 0.9, generator: Optional[torch.Generator] = None
) -> torch.Tensor:
    """Stretch a random slice of ``ceil(reduce_ratio * length)`` steps of each series over its whole length."""
    B, T = x.shape
    size = math.ceil(reduce_ratio * T)
    if size >= T or size < 2:
        return x.clone()
    starts = torch.randint(0, T - size, (B, 1), generator=generator).to(x.device)
    grid = torch.linspace(0, size - 1, T, dtype=torch.float64, device=x.device).expand(B, T) + starts
    xp = torch.arange(T, dtype=torch.float64, device=x.device).expand(B, T)
    return interp(grid, xp, x.double()).to(x.dtype)


def window_warp(
    x: torch.Tensor,
    window_ratio: float = 0.1,
    scales: Sequence[float] = (0.5, 2.0),
    generator: Optional[torch.Generator] = None,
) -> torch.Tensor:
    """Speed up or slow down a random window of ``ceil(window_ratio * length)`` steps of each series by a
    factor drawn from ``scales``, then stretch the result back to the series' length."""
    B, T = x.shape
    size = math.ceil(window_ratio * T)
    if size < 2 or T - size - 1 <= 1:
        return x.clone()
    out = torch.empty_like(x)
    starts = torch.randint(1, T - size - 1, (B,), generator=generator).tolist()
    picks = torch.randint(0, len(scales), (B,), generator=generator).tolist()
    for i in range(B):
        s, e = starts[i], starts[i] + size
        n = max(1, int(size * scales[picks[i]]))
        window = interp(
            torch.linspace(0, size - 1, n, dtype=torch.float64, device=x.device)[None],
            torch.arange(size, dtype=torch.float64, device=x.device)[None],
            x[i : i + 1, s:e].double(),
        )
        warped = torch.cat((x[i, :s].double(), window[0], x[i, e:].double()))
        xp = torch.linspace(0, T - 1, warped.numel(), dtype=torch.float64, device=x.device)
        out[i] = interp(torch.arange(T, dtype=torch.float64, device=x.device)[None], xp[None], warped[None])[0]
    return out


@dataclass
class Augmentations:
    """Every training augmentation's settings, with the reference's names and defaults: the 22
    flat keywords of ``LagLlamaEstimator`` and ``LagLlamaLightningModule`` as one object.

    ``aug_prob``, ``freq_mask_rate`` and ``freq_mixing_rate`` configure the frequency
    augmentations (:func:`freq_mask`, :func:`freq_mix`; applied by the Lightning module to a batch
    with probability ``aug_prob``, before the time-domain ones). The other fields configure the
    reference's eight time-domain augmentations, which :meth:`__call__` applies as the
    reference's ``ApplyAugmentations`` does: on a training window (past and future together) the
    list of enabled augmentations (probability > 0) is applied with probability 1/2 (the
    reference's ``RandomApply``), and within it each augmentation with its own probability, in
    the order below. All their probabilities 0 (the default) changes nothing.
    """

    jitter_prob: float = 0.0
    jitter_sigma: float = 0.03
    scaling_prob: float = 0.0
    scaling_sigma: float = 0.1
    rotation_prob: float = 0.0
    permutation_prob: float = 0.0
    permutation_max_segments: int = 5
    permutation_seg_mode: str = "equal"
    magnitude_warp_prob: float = 0.0
    magnitude_warp_sigma: float = 0.2
    magnitude_warp_knot: int = 4
    time_warp_prob: float = 0.0
    time_warp_sigma: float = 0.2
    time_warp_knot: int = 4
    window_slice_prob: float = 0.0
    window_slice_reduce_ratio: float = 0.9
    window_warp_prob: float = 0.0
    window_warp_window_ratio: float = 0.1
    window_warp_scales: Sequence[float] = field(default_factory=lambda: [0.5, 2.0])
    # the frequency augmentations of Lag-Llama's paper (last: positional use stays the reference's)
    aug_prob: float = 0.1
    freq_mask_rate: float = 0.1
    freq_mixing_rate: float = 0.1

    def __post_init__(self) -> None:
        for name in PROBABILITIES + FREQUENCY_ARGUMENTS:
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be a probability in [0, 1], got {value!r}")
        if self.permutation_seg_mode not in ("equal", "random"):
            raise ValueError(f'permutation_seg_mode must be "equal" or "random", got {self.permutation_seg_mode!r}')
        if not self.window_warp_scales or min(self.window_warp_scales) <= 0:
            raise ValueError(f"window_warp_scales must be positive factors, got {self.window_warp_scales!r}")

    def __getnewargs_ex__(self):
        # what GluonTS's serde encodes: an estimator given an Augmentations serializes and reloads
        return (), {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_arguments(cls, arguments: Mapping[str, Any]) -> "Augmentations":
        """The settings among a constructor's ``arguments`` (its ``locals()``, which carry the
        reference's names); ``window_warp_scales=None`` means the default scales."""
        settings = {f.name: arguments[f.name] for f in fields(cls) if f.name in arguments}
        if settings.get("window_warp_scales", ()) is None:
            del settings["window_warp_scales"]
        elif "window_warp_scales" in settings:
            settings["window_warp_scales"] = list(settings["window_warp_scales"])
        return cls(**settings)

    @classmethod
    def resolve(cls, augmentations: Any, arguments: Mapping[str, Any]) -> "Augmentations":
        """A constructor's settings: its ``augmentations`` argument (an :class:`Augmentations` or a
        mapping of its fields) when given, else the reference's flat keywords among ``arguments``.
        Giving both (a flat keyword away from its default) is an error: which should win is unclear."""
        flat = cls.from_arguments(arguments)
        if augmentations is None:
            return flat
        if isinstance(augmentations, Mapping):  # e.g. read back from a checkpoint's plain data
            unknown = sorted(set(augmentations) - set(AUGMENTATION_ARGUMENTS))
            if unknown:
                raise ValueError(f"unknown augmentation settings {unknown}")
            augmentations = cls.from_arguments(augmentations)
        if not isinstance(augmentations, cls):
            raise ValueError(f"augmentations must be an Augmentations or None, got {augmentations!r}")
        changed = sorted(f.name for f in fields(cls) if getattr(flat, f.name) != getattr(cls(), f.name))
        if changed:
            raise ValueError(f"give augmentations= or the flat keywords {changed}, not both")
        return augmentations

    def steps(self) -> List[Tuple[float, Callable]]:
        """(probability, augmentation) of each enabled augmentation, in the reference's order."""
        table = [
            (self.jitter_prob, partial(jitter, sigma=self.jitter_sigma)),
            (self.scaling_prob, partial(scaling, sigma=self.scaling_sigma)),
            (self.rotation_prob, rotation),
            (
                self.permutation_prob,
                partial(permutation, max_segments=self.permutation_max_segments, seg_mode=self.permutation_seg_mode),
            ),
            (
                self.magnitude_warp_prob,
                partial(magnitude_warp, sigma=self.magnitude_warp_sigma, knot=self.magnitude_warp_knot),
            ),
            (self.time_warp_prob, partial(time_warp, sigma=self.time_warp_sigma, knot=self.time_warp_knot)),
            (self.window_slice_prob, partial(window_slice, reduce_ratio=self.window_slice_reduce_ratio)),
            (
                self.window_warp_prob,
                partial(window_warp, window_ratio=self.window_warp_window_ratio, scales=list(self.window_warp_scales)),
            ),
        ]
        return [(p, fn) for p, fn in table if p > 0]

    @property
    def enabled(self) -> bool:
        return bool(self.steps())

    @torch.no_grad()
    def __call__(
        self, past: torch.Tensor, future: torch.Tensor, generator: Optional[torch.Generator] = None
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        steps = self.steps()
        if not steps or float(_uniform((), generator, past.device)) >= 0.5:
            return past, future
        window = torch.cat((past, future), dim=1)
        for probability, augment in steps:
            if float(_uniform((), generator, past.device)) < probability:
                window = augment(window, generator=generator)
        return window[:, : past.shape[1]], window[:, past.shape[1] :]


PROBABILITIES = (
    "jitter_prob",
    "scaling_prob",
    "rotation_prob",
    "permutation_prob",
    "magnitude_warp_prob",
    "time_warp_prob",
    "window_slice_prob",
    "window_warp_prob",
)
FREQUENCY_ARGUMENTS = ("aug_prob", "freq_mask_rate", "freq_mixing_rate")
# the constructor arguments of the reference that configure these augmentations
AUGMENTATION_ARGUMENTS = tuple(Augmentations.__dataclass_fields__)
