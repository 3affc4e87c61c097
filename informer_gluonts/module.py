"""
The Informer network (Zhou et al., "Informer: Beyond Efficient Transformer
for Long Sequence Time-Series Forecasting", AAAI 2021) as a GluonTS-style
``nn.Module``.

The network reads in four files, top to bottom: :mod:`.attention`
(ProbSparse and full attention), :mod:`.embedding` (token, positional and
calendar embeddings), :mod:`.layers` (encoder with self-attention
distilling, decoder with masked self-attention and full cross-attention),
and this one: ``InformerModel``, which turns GluonTS batches into
encoder/decoder inputs and the decoder output into a distribution over the
whole horizon.

The forecast is *generative*: the decoder input is a start token (the last
``label_len`` context steps) followed by zero placeholders for the horizon,
and one forward pass emits every horizon step. There is no autoregressive
loop anywhere in the network.

**Vocabulary** (the same as ``lagllama_gluonts``' ``LagLlamaModel``):
:meth:`InformerModel.distribution_args` (one pass: ``(distr_args, loc,
scale)``), :meth:`InformerModel.loss` (negative log-likelihood of the
horizon), :meth:`InformerModel.sample` (sample paths, ``(batch,
num_samples, prediction_length)``), ``forward`` = ``sample`` (GluonTS's
convention: ``forward`` is what the predictor calls) and
:meth:`InformerModel.describe_inputs` (the inputs, GluonTS's ``InputSpec``).

**Lags.** A lag ``L >= 1`` is the value ``L`` steps before the predicted
position, the convention of GluonTS's ``get_lags_for_frequency`` (whose
lists the estimator uses by default) and of Lag-Llama's ``lags``: the token
that predicts step ``t`` carries the scaled ``y[t - L]`` for every ``L`` in
``lags_seq``. Lag 0, the token's own value, is always fed as well: it is
the observed value for a context token and a zero placeholder (flagged
unobserved) for a horizon token, as is any lag ``L`` that falls inside the
horizon (``L <= h`` for horizon step ``h = 1 .. prediction_length``).
"""

from typing import List, Optional, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from gluonts.core.component import validated
from gluonts.model import Input, InputSpec
from gluonts.torch.distributions import DistributionOutput, StudentTOutput
from gluonts.torch.modules.feature import FeatureEmbedder

from lagllama_gluonts.common.scaling import make_scaler

from .distributions import PerVariableArgsProj
from .embedding import CALENDAR_MARKS, EMBEDS, DataEmbedding, FixedEmbedding, TemporalEmbedding, sinusoid_table
from .layers import EncoderLayer, InformerEncoderStack, build_decoder, build_encoder

# Serialized predictors name ``informer_gluonts.module.InformerModel`` and the estimator
# imports ``EMBEDS`` from here; existing code imports the embedding and encoder names below
# from here too, so they stay importable at this address.
__all__ = [
    "EMBEDS",
    "FixedEmbedding",
    "InformerEncoderStack",
    "InformerModel",
    "TemporalEmbedding",
    "sinusoid_table",
]


def check_arguments(
    cardinality: List[int],
    num_feat_static_cat: int,
    attention: str,
    activation: str,
    embed: str,
    target_dim: Optional[int],
    distr_output: DistributionOutput,
) -> None:
    """Fail early on an option :class:`InformerModel` cannot build."""
    assert len(cardinality) == num_feat_static_cat
    assert attention in ("prob", "full"), attention
    assert activation in ("gelu", "relu"), activation
    assert embed in EMBEDS, embed
    assert target_dim is None or target_dim >= 1, target_dim
    if target_dim is None:
        assert distr_output.event_shape == (), "a univariate model takes a univariate output"
    else:
        assert distr_output.event_shape in ((), (target_dim,)), (
            f"output event shape {distr_output.event_shape} for {target_dim} variables"
        )


def output_head(d_model: int, target_dim: Optional[int], distr_output: DistributionOutput) -> nn.Module:
    """
    The projection of a decoder output to the distribution's arguments: one per variable
    when a univariate distribution is applied to each of ``target_dim`` variables.
    """
    if target_dim is not None and distr_output.event_shape == ():
        return PerVariableArgsProj(d_model, target_dim, distr_output)
    return distr_output.get_args_proj(d_model)


class InformerModel(nn.Module):
    """
    Module implementing the Informer model, see Zhou et al. (AAAI 2021),
    with a probabilistic output head.

    Every time step becomes one token whose features are: the scaled
    target at lags ``[0] + lags_seq`` with an "observed" flag per lag, the
    time features (incl. age and known-future ``feat_dynamic_real``), the
    past-only covariates ``past_feat_dynamic_real`` (zero in the horizon),
    and the static features (embedded categoricals, static reals and
    ``log(scale)``). The encoder reads the ``context_length`` context
    tokens; the decoder reads the last ``label_len`` context tokens followed
    by ``prediction_length`` placeholder tokens whose target values are
    ``padding`` (their time features and known covariates are real), and its
    outputs at the placeholders are projected to the arguments of
    ``distr_output``.

    **Multivariate ("M", ``target_dim=D``).** The target is ``(B, T, D)``
    (GluonTS's ``D x T`` entries, time-major after the instance splitter):
    each token carries every variable's lags and flags (the official code's
    ``enc_in = dec_in = D``), each variable is scaled by its own context
    statistics (and its ``log(scale)`` is a static feature), and the head
    emits ``D`` values per step (``c_out = D``): a univariate
    ``distr_output`` (Student-t by default) independently per variable, or a
    multivariate one (event shape ``(D,)``, e.g.
    :class:`~informer_gluonts.distributions.LowRankMultivariateNormalOutput`).
    Missing values are per variable: an unobserved value is 0 with a 0 flag
    in the inputs and is left out of the loss (a multivariate head scores a
    step only when all its variables are observed).

    Parameters
    ----------
    context_length
        Number of time steps the encoder reads.
    prediction_length
        Number of time steps to predict, all in one decoder pass.
    num_time_features
        Number of calendar/age features in ``past_time_feat`` (they come
        first in that tensor).
    num_feat_dynamic_real
        Number of known-future covariates that follow the time features in
        ``past_time_feat`` / ``future_time_feat``. They are standardised per
        window over the context so that their units do not matter.
    num_past_feat_dynamic_real
        Number of past-only covariates (``past_feat_dynamic_real``), also
        standardised per window.
    num_feat_static_real
        Number of static real features.
    num_feat_static_cat
        Number of static categorical features.
    cardinality
        Number of values of each static categorical feature.
    embedding_dimension
        Embedding size of each static categorical feature (default:
        ``min(50, (cat + 1) // 2)``).
    lags_seq
        Target lags (>= 1) fed as features: lag ``L`` is the value ``L``
        steps before the predicted position (see the module docstring);
        lag 0 is always used.
    label_len
        Length of the decoder's start token (default: ``context_length //
        2``, as in the paper).
    d_model, n_heads, d_layers, d_ff
        Transformer sizes: model width, attention heads, decoder layers,
        feed-forward width.
    e_layers
        Encoder layers: an integer (Informer), or a list of depths such as
        ``[3, 2, 1]`` for the official ``InformerStack``: one encoder per
        entry, encoder ``i`` on the last ``1 / 2**i`` of the context, their
        outputs concatenated (:class:`InformerEncoderStack`).
    attention
        ``"prob"`` for ProbSparse self-attention, ``"full"`` for canonical
        attention. Cross-attention is always full, as in the paper.
    factor
        ProbSparse sampling factor ``c`` (``u = c * ln L`` queries/keys).
    distil
        Whether to halve the sequence between encoder layers.
    dropout
        Dropout rate.
    activation
        ``"gelu"`` or ``"relu"`` in the feed-forward blocks.
    embed
        Calendar information: ``"timeF"`` (the time features are token
        inputs), or ``"fixed"`` / ``"learned"``: the official
        ``TemporalEmbedding`` of the integer marks ``past_time_marks`` /
        ``future_time_marks`` (month, day, weekday, hour, minute // 15),
        frozen sinusoidal or trained tables, added to the token embedding.
    mix
        The official decoder self-attention output mixing (heads and
        positions interleaved by a transpose + view; default True, as the
        official ``--mix``).
    padding
        Value of the decoder's horizon placeholders (the official
        ``--padding``, 0 or 1), in the scaled units; their observed flags
        are 0 either way.
    target_dim
        ``None``: univariate targets ``(B, T)``; ``D``: ``D`` variables
        forecast jointly, targets ``(B, T, D)``.
    distr_output
        Distribution to emit at every horizon step (per variable when it is
        univariate and ``target_dim`` is set).
    scaling
        ``"std"``, ``"mean"``, ``"robust"`` or ``"none"``: scaler fitted on
        the observed context of each window (per variable)
        (``lagllama_gluonts.common.scaling``).
    num_parallel_samples
        Number of sample paths :meth:`sample` draws by default.
    nonnegative_pred_samples
        Whether :meth:`sample` clips its paths at 0 (GluonTS's option of the
        same name): for data that cannot be negative (counts, loads) under
        a distribution that can. Training and the loss are unaffected.
    """

    @validated()
    def __init__(
        self,
        context_length: int,
        prediction_length: int,
        num_time_features: int = 1,
        num_feat_dynamic_real: int = 0,
        num_past_feat_dynamic_real: int = 0,
        num_feat_static_real: int = 1,
        num_feat_static_cat: int = 1,
        cardinality: List[int] = [1],
        embedding_dimension: Optional[List[int]] = None,
        lags_seq: Optional[List[int]] = None,
        label_len: Optional[int] = None,
        d_model: int = 64,
        n_heads: int = 4,
        e_layers: Union[int, List[int]] = 2,
        d_layers: int = 1,
        d_ff: int = 128,
        attention: str = "prob",
        factor: int = 5,
        distil: bool = True,
        dropout: float = 0.05,
        activation: str = "gelu",
        embed: str = "timeF",
        mix: bool = True,
        padding: float = 0.0,
        target_dim: Optional[int] = None,
        distr_output: DistributionOutput = StudentTOutput(),
        scaling: str = "std",
        num_parallel_samples: int = 100,
        nonnegative_pred_samples: bool = False,
    ) -> None:
        super().__init__()
        check_arguments(cardinality, num_feat_static_cat, attention, activation, embed, target_dim, distr_output)

        self.context_length = context_length
        self.prediction_length = prediction_length
        self.label_len = label_len if label_len is not None else context_length // 2
        assert 0 <= self.label_len <= context_length
        self.num_time_features = num_time_features
        self.num_feat_dynamic_real = num_feat_dynamic_real
        self.num_past_feat_dynamic_real = num_past_feat_dynamic_real
        self.num_feat_static_real = num_feat_static_real
        self.num_feat_static_cat = num_feat_static_cat
        self.lags_seq = [0] + sorted({int(lag) for lag in (lags_seq or [])} - {0})
        assert min(self.lags_seq) >= 0
        self.embed = embed
        self.padding = float(padding)
        self.target_dim = target_dim
        self.distr_output = distr_output
        self.num_parallel_samples = num_parallel_samples
        self.nonnegative_pred_samples = nonnegative_pred_samples
        # Scaled over time: the last axis of (B, T), the middle one of (B, T, D).
        self.scaler = make_scaler(scaling, dim=-1 if target_dim is None else 1)

        # Submodules in the order that fixes their random initial weights and the
        # state_dict keys of saved models: static embedder, the two token embeddings,
        # encoder, decoder, output head.
        self.embedding_dimension = (
            embedding_dimension if embedding_dimension is not None else [min(50, (cat + 1) // 2) for cat in cardinality]
        )
        self.embedder = FeatureEmbedder(
            cardinalities=cardinality,
            embedding_dims=self.embedding_dimension,
        )
        self.enc_embedding = DataEmbedding(self._num_token_features, d_model, dropout, embed)
        self.dec_embedding = DataEmbedding(self._num_token_features, d_model, dropout, embed)
        sizes = dict(d_model=d_model, n_heads=n_heads, d_ff=d_ff, factor=factor, dropout=dropout, activation=activation)
        self.encoder = build_encoder(e_layers, attention=attention, distil=distil, **sizes)
        self.decoder = build_decoder(d_layers, attention=attention, mix=mix, **sizes)
        self.args_proj = output_head(d_model, target_dim, distr_output)

    # ----------------------------------------------------------------------
    # Shapes
    # ----------------------------------------------------------------------

    @property
    def past_length(self) -> int:
        """Past values one window holds: the context and the longest lag's reach before it."""
        return self.context_length + max(self.lags_seq)

    # the name before the shared vocabulary (Lag-Llama's network always called it past_length)
    _past_length = past_length

    @property
    def _num_variables(self) -> int:
        return 1 if self.target_dim is None else self.target_dim

    @property
    def _num_token_features(self) -> int:
        return (
            2 * len(self.lags_seq) * self._num_variables  # scaled lag values + observed flags
            + self.num_time_features
            + self.num_feat_dynamic_real
            + self.num_past_feat_dynamic_real
            + sum(self.embedding_dimension)
            + self.num_feat_static_real
            + self._num_variables  # log(scale) of each variable
        )

    def describe_inputs(self, batch_size=1) -> InputSpec:
        num_dynamic = self.num_time_features + self.num_feat_dynamic_real
        target = (
            (batch_size, self.past_length)
            if self.target_dim is None
            else (batch_size, self.past_length, self.target_dim)
        )
        inputs = {
            "feat_static_cat": Input(shape=(batch_size, self.num_feat_static_cat), dtype=torch.long),
            "feat_static_real": Input(
                shape=(batch_size, self.num_feat_static_real),
                dtype=torch.float,
            ),
            "past_time_feat": Input(
                shape=(batch_size, self.past_length, num_dynamic),
                dtype=torch.float,
            ),
            "past_target": Input(shape=target, dtype=torch.float),
            "past_observed_values": Input(shape=target, dtype=torch.float),
            "future_time_feat": Input(
                shape=(batch_size, self.prediction_length, num_dynamic),
                dtype=torch.float,
            ),
        }
        if self.num_past_feat_dynamic_real > 0:
            inputs["past_feat_dynamic_real"] = Input(
                shape=(
                    batch_size,
                    self.past_length,
                    self.num_past_feat_dynamic_real,
                ),
                dtype=torch.float,
            )
        if self.embed != "timeF":
            marks = len(CALENDAR_MARKS)
            inputs["past_time_marks"] = Input(shape=(batch_size, self.past_length, marks), dtype=torch.float)
            inputs["future_time_marks"] = Input(shape=(batch_size, self.prediction_length, marks), dtype=torch.float)
        return InputSpec(inputs, zeros_fn=torch.zeros)

    # ----------------------------------------------------------------------
    # Inputs -> tokens
    # ----------------------------------------------------------------------

    def _standardise_over_context(self, x: torch.Tensor) -> torch.Tensor:
        """
        Standardise covariates (B, T, C), whose first ``context_length``
        steps are the context, per window and channel with the statistics
        of the context, so that raw-unit covariates (e.g. loads in MW) do
        not swamp the scaled target.
        """
        context = x[:, : self.context_length]
        loc = context.mean(dim=1, keepdim=True)
        scale = context.std(dim=1, keepdim=True, unbiased=False)
        return (x - loc) / scale.clamp_min(1e-5)

    def _tokens(
        self,
        feat_static_cat: torch.Tensor,
        feat_static_real: torch.Tensor,
        past_time_feat: torch.Tensor,
        past_target: torch.Tensor,
        past_observed_values: torch.Tensor,
        future_time_feat: torch.Tensor,
        past_feat_dynamic_real: Optional[torch.Tensor] = None,
    ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """
        Build one feature vector per step for the context and the horizon.

        Returns the tokens (B, context_length + prediction_length, C) and
        the scaler's ``loc`` and ``scale``: (B, 1), or (B, 1, D) for a
        multivariate model.
        """
        H = self.prediction_length
        past_length = self.past_length
        batch_size = past_target.shape[0]

        _, loc, scale = self.scaler(
            past_target[:, -self.context_length :],
            past_observed_values[:, -self.context_length :],
        )
        # Unobserved (missing or padded) steps become 0 with a 0 flag, as do
        # the horizon placeholders (``padding``, 0 by default), so the network
        # can tell them apart from a genuinely observed value.
        placeholders = past_target.new_full((batch_size, H, *past_target.shape[2:]), self.padding)
        values = torch.cat(((past_target - loc) / scale * past_observed_values, placeholders), dim=1)
        observed = torch.cat((past_observed_values, torch.zeros_like(placeholders)), dim=1)

        # Lag L of the token at absolute index i is values[i - L] (L steps
        # before the position it stands for); tokens run over the context
        # and the horizon, i.e. indices [past_length - context_length,
        # past_length + H).
        start = past_length - self.context_length
        end = past_length + H
        lag_values = torch.stack([values[:, start - lag : end - lag] for lag in self.lags_seq], dim=-1)
        lag_observed = torch.stack([observed[:, start - lag : end - lag] for lag in self.lags_seq], dim=-1)
        if self.target_dim is not None:
            # (B, L, D, lags) -> (B, L, D * lags): every variable's lags in one token
            lag_values, lag_observed = lag_values.flatten(2), lag_observed.flatten(2)

        time_feat = torch.cat((past_time_feat, future_time_feat), dim=1)
        time_feat = time_feat[:, start:end]
        if self.num_feat_dynamic_real > 0:
            # Known-future covariates follow the calendar features.
            calendar = time_feat[..., : self.num_time_features]
            covariates = self._standardise_over_context(time_feat[..., self.num_time_features :])
            time_feat = torch.cat((calendar, covariates), dim=-1)
        features = [lag_values, lag_observed, time_feat]

        if self.num_past_feat_dynamic_real > 0:
            assert past_feat_dynamic_real is not None
            past_covariates = self._standardise_over_context(past_feat_dynamic_real[:, start:])
            # Unknown in the horizon: placeholders, like the target.
            features.append(F.pad(past_covariates, (0, 0, 0, H), value=self.padding))

        static = torch.cat(
            (
                self.embedder(feat_static_cat),
                feat_static_real,
                scale.log().flatten(1),  # (B, 1) or (B, D)
            ),
            dim=-1,
        )
        features.append(static.unsqueeze(1).expand(-1, end - start, -1))
        return torch.cat(features, dim=-1), loc, scale

    # ----------------------------------------------------------------------
    # One pass: encoder, decoder, distribution arguments
    # ----------------------------------------------------------------------

    def _decode(
        self,
        feat_static_cat: torch.Tensor,
        feat_static_real: torch.Tensor,
        past_time_feat: torch.Tensor,
        past_target: torch.Tensor,
        past_observed_values: torch.Tensor,
        future_time_feat: torch.Tensor,
        past_feat_dynamic_real: Optional[torch.Tensor] = None,
        past_time_marks: Optional[torch.Tensor] = None,
        future_time_marks: Optional[torch.Tensor] = None,
    ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Encoder and decoder once: the decoder's outputs at the horizon
        (B, prediction_length, d_model), and the scaler's loc and scale."""
        tokens, loc, scale = self._tokens(
            feat_static_cat,
            feat_static_real,
            past_time_feat,
            past_target,
            past_observed_values,
            future_time_feat,
            past_feat_dynamic_real,
        )
        encoder_tokens = tokens[:, : self.context_length]
        # Start token (last label_len context steps) + horizon placeholders.
        decoder_tokens = tokens[:, self.context_length - self.label_len :]
        encoder_marks = decoder_marks = None
        if self.embed != "timeF":
            assert past_time_marks is not None and future_time_marks is not None, "embed needs the time marks"
            marks = torch.cat((past_time_marks, future_time_marks), dim=1)[:, -tokens.shape[1] :]
            encoder_marks = marks[:, : self.context_length]
            decoder_marks = marks[:, self.context_length - self.label_len :]

        memory = self.encoder(self.enc_embedding(encoder_tokens, encoder_marks))
        decoded = self.decoder(self.dec_embedding(decoder_tokens, decoder_marks), memory)
        return decoded[:, -self.prediction_length :], loc, scale

    def distribution_args(self, *args, **kwargs) -> Tuple[Tuple[torch.Tensor, ...], torch.Tensor, torch.Tensor]:
        """
        Run encoder and decoder once and return the distribution arguments
        for every horizon step (each (B, prediction_length), or (B,
        prediction_length, D, ...) for a multivariate model), plus the
        scaler's ``loc`` and ``scale`` ((B, 1) or (B, 1, D)); takes
        ``forward``'s inputs.
        """
        decoded, loc, scale = self._decode(*args, **kwargs)
        return self.args_proj(decoded), loc, scale

    def _distribution(self, distr_args, loc, scale) -> torch.distributions.Distribution:
        distr = self.distr_output.distribution(distr_args, loc=loc, scale=scale)
        if self.target_dim is not None and self.distr_output.event_shape == ():
            # Independent per variable: the D values of a step form one event.
            distr = torch.distributions.Independent(distr, 1)
        return distr

    def output_distribution(self, *args, **kwargs) -> torch.distributions.Distribution:
        """
        The forecast distribution over the horizon in the data's units,
        batch shape (B, prediction_length) (and event shape (D,) for a
        multivariate model); takes ``forward``'s inputs.
        """
        return self._distribution(*self.distribution_args(*args, **kwargs))

    def sample(
        self,
        feat_static_cat: torch.Tensor,
        feat_static_real: torch.Tensor,
        past_time_feat: torch.Tensor,
        past_target: torch.Tensor,
        past_observed_values: torch.Tensor,
        future_time_feat: torch.Tensor,
        past_feat_dynamic_real: Optional[torch.Tensor] = None,
        past_time_marks: Optional[torch.Tensor] = None,
        future_time_marks: Optional[torch.Tensor] = None,
        num_samples: Optional[int] = None,
        nonnegative: Optional[bool] = None,
    ) -> torch.Tensor:
        """
        Sample paths (B, num_samples, prediction_length), or (B,
        num_samples, prediction_length, D) for a multivariate model, from
        the distribution of a single encoder/decoder pass (default
        ``num_samples``: ``num_parallel_samples``), clipped at 0 when
        ``nonnegative`` (default: ``nonnegative_pred_samples``).
        """
        if num_samples is None:
            num_samples = self.num_parallel_samples
        if nonnegative is None:
            nonnegative = self.nonnegative_pred_samples
        distr = self.output_distribution(
            feat_static_cat,
            feat_static_real,
            past_time_feat,
            past_target,
            past_observed_values,
            future_time_feat,
            past_feat_dynamic_real,
            past_time_marks,
            future_time_marks,
        )
        samples = distr.sample((num_samples,)).transpose(0, 1)  # (B, S, H[, D])
        # Clipping the paths (not the distribution) is GluonTS's rule: every
        # statistic of the forecast then respects the bound.
        return torch.relu(samples) if nonnegative else samples

    # GluonTS's convention: ``forward`` is what the predictor calls, the samples.
    forward = sample

    def loss(
        self,
        feat_static_cat: torch.Tensor,
        feat_static_real: torch.Tensor,
        past_time_feat: torch.Tensor,
        past_target: torch.Tensor,
        past_observed_values: torch.Tensor,
        future_time_feat: torch.Tensor,
        future_target: torch.Tensor,
        future_observed_values: torch.Tensor,
        past_feat_dynamic_real: Optional[torch.Tensor] = None,
        past_time_marks: Optional[torch.Tensor] = None,
        future_time_marks: Optional[torch.Tensor] = None,
    ) -> torch.Tensor:
        """
        Negative log-likelihood of ``future_target`` averaged over the
        observed horizon values (per variable for a multivariate model;
        a multivariate head's per-step NLL is divided by D and counts only
        steps with every variable observed); one value per series, (B,).
        """
        distr_args, loc, scale = self.distribution_args(
            feat_static_cat,
            feat_static_real,
            past_time_feat,
            past_target,
            past_observed_values,
            future_time_feat,
            past_feat_dynamic_real,
            past_time_marks,
            future_time_marks,
        )
        nll = self.distr_output.loss(target=future_target, distr_args=distr_args, loc=loc, scale=scale)
        weights = future_observed_values
        if self.target_dim is not None and self.distr_output.event_shape != ():
            # one NLL per step (B, H): a step counts when all its variables are observed
            weights = weights.amin(dim=-1)
            nll = nll / self.target_dim
        dims = tuple(range(1, nll.dim()))
        return (nll * weights).sum(dim=dims) / weights.sum(dim=dims).clamp_min(1.0)

    # ----------------------------------------------------------------------
    # Attention maps (the official ``output_attention``)
    # ----------------------------------------------------------------------

    @property
    def encoder_layers(self) -> List[EncoderLayer]:
        """Every encoder layer, in order (over all encoders of an ``InformerStack``)."""
        return list(self.encoder.layers)

    @torch.no_grad()
    def encoder_attention(self, *args, **kwargs) -> List[torch.Tensor]:
        """
        The self-attention weights of every encoder layer for the given
        inputs (``forward``'s), each ``(B, n_heads, L_Q, L_K)``: what the
        official code returns with ``output_attention``. ProbSparse rows of
        lazy queries are uniform (they output ``mean(V)``), those of the
        active queries their softmax weights, as the official
        ``_update_context``. One forward pass, without gradients.
        """
        inner = [layer.self_attention.inner_attention for layer in self.encoder_layers]
        for attention in inner:
            attention.record_attention = True
        try:
            self._decode(*args, **kwargs)
            return [attention.attention_map for attention in inner]
        finally:
            for attention in inner:
                attention.record_attention = False
                attention.attention_map = None
