"""The Lag-Llama network: a decoder-only LLaMA over lagged values of one series.

:class:`LagLlamaModel` turns a window of a series into tokens (lags + scale features + time
features, plus covariates through :class:`~lagllama_gluonts.covariate_encoder.CovariateEncoder`),
runs the transformer of :mod:`lagllama_gluonts.layers` and projects every position onto the
parameters of a distribution; :mod:`lagllama_gluonts.decoding` turns that into sample paths.

Parameter names equal the released checkpoint's ``state_dict`` (``transformer.wte``,
``transformer.h.{i}.{rms_1,attn,rms_2,mlp}``, ``transformer.ln_f``, ``param_proj``), so
its weights load without renaming.
"""

from __future__ import annotations

from typing import List, Optional, Tuple

import torch
from gluonts.model import Input, InputSpec
from gluonts.torch.distributions import DistributionOutput, ImplicitQuantileNetworkOutput, StudentTOutput
from torch import nn

from .common.scaling import make_scaler
from .covariate_encoder import COVARIATE_INPUTS, CovariateEncoder
from .covariate_regression import CovariateRegression, pathway_features
from .decoding import DecodingInputs, DecodingPolicy, decode
from .layers import Block, KVCache, LagLlamaConfig, RMSNorm, lag_features
from .model_checks import check_architecture, check_covariates, validate_rope_scaling

__all__ = ["COVARIATE_INPUTS", "NUM_TIME_FEATURES", "LagLlamaConfig", "LagLlamaModel", "token_mean"]

# GluonTS's time features of frequency "S" (second, minute, hour, day of week/month/year)
NUM_TIME_FEATURES = 6


class LagLlamaModel(nn.Module):
    """Lag-Llama: a decoder-only transformer over lag features of a univariate series.

    The same vocabulary as ``informer_gluonts``' ``InformerModel``:
    :meth:`distribution_args` (one teacher-forced pass: ``(distr_args, loc, scale)``),
    :meth:`loss` (the negative log-likelihood at every predicted position),
    :meth:`sample` (autoregressive sample paths), ``forward`` = :meth:`sample` (what a
    GluonTS predictor calls), and :meth:`describe_inputs` (the prediction inputs, GluonTS's
    ``InputSpec``).

    **Lags.** One convention with Informer: a lag ``L >= 1`` is the value ``L`` steps before
    the predicted position (GluonTS's ``get_lags_for_frequency``). ``lags_seq`` keeps the
    reference's 0-based indices, index ``i`` = lag ``i + 1``, because the reference's
    constructor and every released checkpoint use them; :attr:`lags` gives the same set in
    the 1-based convention.

    Parameters
    ----------
    context_length
        Number of tokens the model attends over before the horizon.
    max_context_length
        Length the rotary embeddings are built for (``block_size`` of the reference);
        dynamic rope scaling kicks in beyond it.
    scaling
        "robust", "mean", "std", "none" or None (see ``common.scaling``).
    input_size
        Must be 1 (univariate), as in the released model.
    n_layer, n_embd_per_head, n_head
        Transformer depth and width (width = n_head * n_embd_per_head; the head size must be
        even: rotary embeddings rotate pairs of channels).
    lags_seq
        0-based lag indices (index ``i`` = lag ``i + 1``); the window fed to the model holds
        ``context_length + max(lags_seq)`` past values.
    distr_output
        Any GluonTS ``DistributionOutput``; Student-t by default.
    rope_scaling
        None, or ``{"type": "linear" | "dynamic", "factor": float >= 1}``.
    num_parallel_samples
        Sample paths drawn per series at prediction time.
    time_feat
        Whether six time features (GluonTS's features of frequency "S") are fed.
    dropout
        Attention dropout probability (training only).
    scaling_window
        How many of the most recent past values loc and scale are computed from. ``None``
        (the reference, and the released checkpoint) uses the whole window of
        ``context_length + max(lags_seq)`` values: on a trending series its median lies far
        below the current level, and a model pretrained on mostly mean-reverting data then
        pulls forecasts back towards it. The bundled checkpoint scales on its context.
    unobserved_as_loc
        Feed unobserved past values (missing, or the padding before a short series' start)
        as ``loc``, i.e. 0 after scaling. The reference feeds them as raw 0, which after
        scaling is ``-loc / scale``: for a short series far from 0 every long lag then reads
        as a huge negative value.
    prediction_length
        Default horizon of :meth:`sample` and of :meth:`describe_inputs` (the Lightning module
        sets it; checkpoints do not store it: the horizon is not part of the architecture).
    num_feat_dynamic_real, num_past_feat_dynamic_real, num_feat_static_real, num_feat_static_cat
        Covariates in GluonTS's fields (the names of ``DeepAREstimator``): known over the
        horizon, known only in the past, static real, static categorical (see
        :class:`CovariateEncoder`). All 0 (the default, and every released checkpoint): no
        covariate weights at all, the state dict of the reference.
    cardinality, embedding_dimension
        Per static categorical feature: its number of values, and its embedding size
        (default ``min(50, (cardinality + 1) // 2)``, as ``DeepAREstimator``).
    covariate_scaling
        "std" (each dynamic covariate standardised by its own context window, its window's
        mean and spread fed alongside) or "none" (fed as given, e.g. calendar features).
    covariate_regression
        The pretrained covariate pathway (:mod:`~lagllama_gluonts.covariate_regression`): known
        covariates of any number enter as what an in-context regression on them says, through a
        small network pretraining learns. False (the default, every released checkpoint): none.
    """

    def __init__(
        self,
        context_length: int,
        max_context_length: int,
        scaling: Optional[str],
        input_size: int,
        n_layer: int,
        n_embd_per_head: int,
        n_head: int,
        lags_seq: List[int],
        distr_output: Optional[DistributionOutput] = None,
        rope_scaling: Optional[dict] = None,
        num_parallel_samples: int = 100,
        time_feat: bool = True,
        dropout: float = 0.0,
        scaling_window: Optional[int] = None,
        unobserved_as_loc: bool = False,
        prediction_length: Optional[int] = None,
        num_feat_dynamic_real: int = 0,
        num_past_feat_dynamic_real: int = 0,
        num_feat_static_real: int = 0,
        num_feat_static_cat: int = 0,
        cardinality: Optional[List[int]] = None,
        embedding_dimension: Optional[List[int]] = None,
        covariate_scaling: str = "std",
        covariate_regression: bool = False,
    ) -> None:
        super().__init__()
        check_architecture(
            context_length=context_length,
            max_context_length=max_context_length,
            n_layer=n_layer,
            n_head=n_head,
            n_embd_per_head=n_embd_per_head,
            num_parallel_samples=num_parallel_samples,
            prediction_length=prediction_length,
        )
        if scaling_window is not None and scaling_window < 1:
            raise ValueError(f"scaling_window must be None or a positive number of steps, got {scaling_window}")
        if input_size != 1:
            raise ValueError(f"Lag-Llama is univariate: input_size must be 1, got {input_size}")
        if not lags_seq or min(lags_seq) < 0:
            raise ValueError(f"lags_seq must be non-empty 0-based lag indices, got {lags_seq}")
        validate_rope_scaling(rope_scaling)
        self.context_length = context_length
        self.prediction_length = prediction_length
        self.lags_seq = sorted(int(lag) for lag in lags_seq)
        self.max_lag = max(self.lags_seq)
        self.num_parallel_samples = num_parallel_samples
        self.time_feat = time_feat
        self.scaler = make_scaler(scaling, dim=1)
        self.scaling_window = scaling_window
        self.unobserved_as_loc = unobserved_as_loc
        self.distr_output = distr_output if distr_output is not None else StudentTOutput()
        # not persistent: the released state_dict has no such entry
        self.register_buffer("lag_index", torch.tensor(self.lags_seq), persistent=False)

        feature_size = len(self.lags_seq) + 2 + (NUM_TIME_FEATURES if time_feat else 0)
        self.config = LagLlamaConfig(
            feature_size=feature_size,
            block_size=max_context_length,
            n_layer=n_layer,
            n_head=n_head,
            n_embd_per_head=n_embd_per_head,
            rope_scaling=rope_scaling,
            dropout=dropout,
        )
        self.param_proj = self.distr_output.get_args_proj(self.config.n_embd)
        self.transformer = nn.ModuleDict(
            dict(
                wte=nn.Linear(feature_size, self.config.n_embd),
                h=nn.ModuleList([Block(self.config) for _ in range(n_layer)]),
                ln_f=RMSNorm(self.config.n_embd),
            )
        )
        self.num_feat_dynamic_real = num_feat_dynamic_real
        self.num_past_feat_dynamic_real = num_past_feat_dynamic_real
        self.num_feat_static_real = num_feat_static_real
        self.num_feat_static_cat = num_feat_static_cat
        self.cardinality = list(cardinality or [])
        check_covariates(
            num_feat_dynamic_real=num_feat_dynamic_real,
            num_past_feat_dynamic_real=num_past_feat_dynamic_real,
            num_feat_static_real=num_feat_static_real,
            num_feat_static_cat=num_feat_static_cat,
            cardinality=self.cardinality,
            embedding_dimension=embedding_dimension,
            covariate_scaling=covariate_scaling,
        )
        # None without covariates: no parameter the released state dict lacks
        self.covariates = None
        if self.covariate_inputs:
            self.covariates = CovariateEncoder(
                self.config.n_embd,
                num_feat_dynamic_real,
                num_past_feat_dynamic_real,
                num_feat_static_real,
                self.cardinality,
                embedding_dimension,
                covariate_scaling,
            )
        # the pretrained covariate pathway (covariate_regression.py): None unless asked for, so
        # that a checkpoint without it has no parameter more
        self.covariate_regression = CovariateRegression(self.config.n_embd) if covariate_regression else None

    @property
    def past_length(self) -> int:
        """Past values one window holds: the context and the longest lag's reach before it."""
        return self.context_length + self.max_lag

    @property
    def lags(self) -> List[int]:
        """The lags in the 1-based convention shared with Informer (``lags_seq`` + 1)."""
        return [index + 1 for index in self.lags_seq]

    @property
    def covariate_inputs(self) -> List[str]:
        """The covariate inputs (of :data:`COVARIATE_INPUTS`) the model was built with."""
        counts = (
            self.num_feat_dynamic_real,
            self.num_past_feat_dynamic_real,
            self.num_feat_static_real,
            self.num_feat_static_cat,
        )
        return [name for name, count in zip(COVARIATE_INPUTS, counts) if count > 0]

    def _covariate_config(self) -> str:
        return (
            f"num_feat_dynamic_real={self.num_feat_dynamic_real}, "
            f"num_past_feat_dynamic_real={self.num_past_feat_dynamic_real}, "
            f"num_feat_static_real={self.num_feat_static_real}, num_feat_static_cat={self.num_feat_static_cat}"
        )

    def describe_inputs(self, batch_size: int = 1) -> InputSpec:
        """The prediction inputs (what ``forward`` takes), as GluonTS's ``InputSpec``."""
        horizon = self._horizon(None)
        P = self.past_length
        inputs = {
            "past_target": Input(shape=(batch_size, P), dtype=torch.float),
            "past_observed_values": Input(shape=(batch_size, P), dtype=torch.float),
        }
        if self.time_feat:
            inputs["past_time_feat"] = Input(shape=(batch_size, P, NUM_TIME_FEATURES), dtype=torch.float)
            inputs["future_time_feat"] = Input(shape=(batch_size, horizon, NUM_TIME_FEATURES), dtype=torch.float)
        shapes = {
            "feat_dynamic_real": ((batch_size, P + horizon, self.num_feat_dynamic_real), torch.float),
            "past_feat_dynamic_real": ((batch_size, P, self.num_past_feat_dynamic_real), torch.float),
            "feat_static_real": ((batch_size, self.num_feat_static_real), torch.float),
            "feat_static_cat": ((batch_size, self.num_feat_static_cat), torch.long),
        }
        for name in self.covariate_inputs:
            shape, dtype = shapes[name]
            inputs[name] = Input(shape=shape, dtype=dtype)
        return InputSpec(inputs, zeros_fn=torch.zeros)

    def _horizon(self, prediction_length: Optional[int]) -> int:
        horizon = prediction_length or self.prediction_length
        if horizon is None:
            raise ValueError("no prediction_length: pass it, or build the model with prediction_length=")
        return horizon

    # -- inputs --------------------------------------------------------------------------------

    def scale(self, past_target, past_observed_values):
        """loc and scale of each row, shape (batch, 1), from its observed past."""
        if self.scaling_window is not None:
            past_target = past_target[:, -self.scaling_window :]
            past_observed_values = past_observed_values[:, -self.scaling_window :]
        _, loc, scale = self.scaler(past_target, past_observed_values)
        return loc, scale

    def fill_unobserved(self, past_target, past_observed_values, loc):
        if not self.unobserved_as_loc:
            return past_target
        return torch.where(past_observed_values == 1, past_target, loc)

    def tokens(
        self,
        scaled_series: torch.Tensor,
        loc: torch.Tensor,
        scale: torch.Tensor,
        time_feat: Optional[torch.Tensor],
        num_tokens: int,
    ) -> torch.Tensor:
        """Features of the last ``num_tokens`` positions of a scaled series.

        Each token is [lags of the value at that position, log1p|loc|, log scale,
        time features of that position]; ``time_feat`` covers exactly those positions.
        """
        lags = lag_features(scaled_series, self.lag_index, num_tokens)
        static = torch.cat((loc.abs().log1p(), scale.log()), dim=-1)
        parts = [lags, static.unsqueeze(1).expand(-1, num_tokens, -1)]
        if self.time_feat:
            if time_feat is None:
                raise ValueError("this model was built with time_feat=True: time features are required")
            parts.append(time_feat)
        return torch.cat(parts, dim=-1)

    def covariate_features(
        self,
        past_observed_values: torch.Tensor,
        num_tokens: int,
        covariates: dict,
        scaled_past: Optional[torch.Tensor] = None,
    ) -> Optional[torch.Tensor]:
        """The covariate features of the first ``num_tokens`` tokens: the encoder's (see
        :class:`CovariateEncoder`) then the pretrained pathway's (see
        :mod:`~lagllama_gluonts.covariate_regression`; it needs ``scaled_past``, the window's past
        in scaled units), or None when the model has neither or no covariates reach them."""
        unknown = sorted(set(covariates) - set(COVARIATE_INPUTS))
        if unknown and (self.covariates is not None or self.covariate_regression is not None):
            raise TypeError(f"unknown covariate inputs {unknown}; the model takes {list(COVARIATE_INPUTS)}")
        parts = []
        if self.covariates is not None:
            for name in self.covariate_inputs:
                if covariates.get(name) is None:
                    raise ValueError(
                        f"this model was built with {name} covariates ({self._covariate_config()}): {name} is required"
                    )
            parts.append(self.covariates.features(past_observed_values, self.max_lag, num_tokens, **covariates))
        pathway = pathway_features(
            self.covariate_regression is not None,
            scaled_past,
            past_observed_values,
            covariates.get("feat_dynamic_real"),
            self.max_lag,
            num_tokens,
        )
        if pathway is not None:
            parts.append(pathway)
        return torch.cat(parts, dim=-1) if parts else None

    def covariate_parts(self, features: torch.Tensor) -> Tuple[Optional[torch.Tensor], Optional[torch.Tensor]]:
        """:meth:`covariate_features`' output split: the encoder's part and the pathway's (None
        where there is none)."""
        width = self.covariates.size if self.covariates is not None else 0
        encoder = features[..., :width] if width else None
        pathway = (
            features[..., width:] if self.covariate_regression is not None and features.shape[-1] > width else None
        )
        return encoder, pathway

    def covariate_embedding(self, features: torch.Tensor) -> torch.Tensor:
        """What the covariate features add to each token's embedding: the encoder's projection
        of its part, plus the pathway's network of the rest when there is one."""
        encoder, pathway = self.covariate_parts(features)
        added = self.covariates(encoder) if encoder is not None else 0
        return added + self.covariate_regression(pathway) if pathway is not None else added

    # -- the transformer ----------------------------------------------------------------------

    def hidden_states(
        self,
        tokens: torch.Tensor,
        start: int = 0,
        scaling_length: Optional[int] = None,
        cache: Optional[KVCache] = None,
        covariate_features: Optional[torch.Tensor] = None,
    ) -> torch.Tensor:
        """The final (normalised) hidden state of tokens at positions ``start, start+1, ...``."""
        T = tokens.shape[1]
        positions = torch.arange(start, start + T, device=tokens.device)
        scaling_length = scaling_length or start + T
        x = self.transformer.wte(tokens)
        if covariate_features is not None:
            x = x + self.covariate_embedding(covariate_features)
        for i, block in enumerate(self.transformer.h):
            x = block(x, positions, scaling_length, cache, i)
        if cache is not None:
            cache.advance(T)
        return self.transformer.ln_f(x)

    def transformer_forward(
        self,
        tokens: torch.Tensor,
        start: int = 0,
        scaling_length: Optional[int] = None,
        cache: Optional[KVCache] = None,
        covariate_features: Optional[torch.Tensor] = None,
    ) -> Tuple[torch.Tensor, ...]:
        """Distribution arguments for tokens at positions ``start, start+1, ...``."""
        return self.head(
            self.hidden_states(tokens, start, scaling_length, cache, covariate_features), covariate_features
        )

    def head(self, hidden: torch.Tensor, covariate_features: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor, ...]:
        """The distribution arguments of hidden states: ``param_proj``, its location moved by the
        pretrained covariate pathway's term where it has features (see :mod:`~.covariate_regression`)."""
        params = self.param_proj(hidden)
        pathway = None if covariate_features is None else self.covariate_parts(covariate_features)[1]
        if pathway is None or "loc" not in self.distr_output.args_dim:
            return params
        index = list(self.distr_output.args_dim).index("loc")
        shift = self.covariate_regression.loc_shift(pathway)
        return tuple(p + shift if k == index else p for k, p in enumerate(params))

    # -- one teacher-forced pass: training, validation, the reference's outputs ---------------

    def distribution_args(
        self,
        past_target: torch.Tensor,
        past_observed_values: torch.Tensor,
        past_time_feat: Optional[torch.Tensor] = None,
        future_time_feat: Optional[torch.Tensor] = None,
        future_target: Optional[torch.Tensor] = None,
        **covariates: torch.Tensor,
    ) -> Tuple[Tuple[torch.Tensor, ...], torch.Tensor, torch.Tensor]:
        """Teacher-forced distribution arguments, with the reference's semantics.

        Without ``future_target`` there is one output per context position (the last one
        is the next-step forecast); with it, the horizon's values but its last are appended
        as inputs, giving ``context_length + prediction_length - 1`` outputs.
        Returns ``(distr_args, loc, scale)``; the arguments are in scaled space.
        ``covariates``: the inputs of :data:`COVARIATE_INPUTS` the model was built with.
        """
        loc, scale = self.scale(past_target, past_observed_values)
        past_target = self.fill_unobserved(past_target, past_observed_values, loc)
        series = (past_target - loc) / scale
        time_feat = past_time_feat[:, self.max_lag :] if past_time_feat is not None else None
        if future_target is not None:
            series = torch.cat((series, (future_target[:, :-1] - loc) / scale), dim=1)
            if time_feat is not None:
                time_feat = torch.cat((time_feat, future_time_feat[:, :-1]), dim=1)
        num_tokens = series.shape[1] - self.max_lag
        tokens = self.tokens(series, loc, scale, time_feat, num_tokens)
        P = past_target.shape[1]
        features = self.covariate_features(past_observed_values, num_tokens, covariates, series[:, :P])
        return self.transformer_forward(tokens, covariate_features=features), loc, scale

    def loss(
        self,
        past_target: torch.Tensor,
        past_observed_values: torch.Tensor,
        past_time_feat: Optional[torch.Tensor],
        future_time_feat: Optional[torch.Tensor],
        future_target: torch.Tensor,
        future_observed_values: torch.Tensor,
        reduction: str = "mean",
        loss=None,
        **covariates: torch.Tensor,
    ) -> torch.Tensor:
        """Negative log-likelihood over the observed predicted positions (see :meth:`nll_per_position`).

        ``reduction="mean"`` (default): one mean per series, shape (batch,), the contract of
        ``InformerModel.loss`` and GluonTS's models. ``reduction="token"``: one scalar, the mean
        over every observed position of the batch, what Lag-Llama trains on (the reference
        averages its loss over tokens, so a series with more observed positions weighs more;
        the Lightning module keeps that to keep the reference's training numbers).
        ``loss``: as in :meth:`nll_per_position`.
        """
        if reduction not in ("mean", "token"):
            raise ValueError(f"reduction must be 'mean' (per series) or 'token' (over the batch), got {reduction!r}")
        nll, observed = self.nll_per_position(
            past_target,
            past_observed_values,
            past_time_feat,
            future_time_feat,
            future_target,
            future_observed_values,
            loss=loss,
            **covariates,
        )
        if reduction == "token":
            return token_mean(nll, observed)
        return (nll * observed).sum(dim=1) / observed.sum(dim=1).clamp_min(1.0)

    def nll_per_position(
        self,
        past_target: torch.Tensor,
        past_observed_values: torch.Tensor,
        past_time_feat: Optional[torch.Tensor],
        future_time_feat: Optional[torch.Tensor],
        future_target: torch.Tensor,
        future_observed_values: torch.Tensor,
        loss=None,
        **covariates: torch.Tensor,
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Negative log-likelihood at every predicted position, and whether it was observed.

        The teacher-forced pass predicts the context but its first value, then the horizon:
        returns ``(nll, observed)``, both (batch, context_length - 1 + prediction_length).
        Averaging ``nll`` over the batch's observed positions is the training loss; the last
        ``prediction_length`` columns are the horizon alone.

        The value is the distribution output's own ``loss`` (the NLL; for ``"iqn"`` its
        quantile loss at the sampled levels), or ``loss(distribution, target)`` when a loss
        is given (the reference's ``DistributionLoss`` protocol).
        """
        distr_args, loc, scale = self.distribution_args(
            past_target, past_observed_values, past_time_feat, future_time_feat, future_target, **covariates
        )
        # the context positions that have a prediction: all but the first. Sliced from the
        # end by length, not with [-keep:], which for keep = 0 (context_length 1) is everything.
        P, keep = past_target.shape[1], self.context_length - 1
        target = torch.cat((past_target[:, P - keep :], future_target), dim=1)
        observed = torch.cat((past_observed_values[:, P - keep :], future_observed_values), dim=1)
        if loss is not None:
            return loss(self.distr_output.distribution(distr_args, loc=loc, scale=scale), target), observed
        if isinstance(self.distr_output, ImplicitQuantileNetworkOutput):
            return self.distr_output.loss(target, distr_args, loc, scale), observed
        distr = self.distr_output.distribution(distr_args, loc=loc, scale=scale)
        return -distr.log_prob(target), observed

    # -- sampling -----------------------------------------------------------------------------

    def forward(
        self,
        past_target: torch.Tensor,
        past_observed_values: torch.Tensor,
        past_time_feat: Optional[torch.Tensor] = None,
        future_time_feat: Optional[torch.Tensor] = None,
        **options,
    ) -> torch.Tensor:
        """Sample paths (GluonTS's convention: ``forward`` is what the predictor calls); see :meth:`sample`."""
        return self.sample(past_target, past_observed_values, past_time_feat, future_time_feat, **options)

    @torch.inference_mode()
    def sample(
        self,
        past_target: torch.Tensor,
        past_observed_values: torch.Tensor,
        past_time_feat: Optional[torch.Tensor] = None,
        future_time_feat: Optional[torch.Tensor] = None,
        prediction_length: Optional[int] = None,
        num_samples: Optional[int] = None,
        use_kv_cache: bool = True,
        rescale_every_step: bool = False,
        nonnegative: bool = False,
        single_pass: bool = False,
        **covariates: torch.Tensor,
    ) -> torch.Tensor:
        """Autoregressive sample paths, shape (batch, num_samples, prediction_length).

        Every path conditions on its own sampled history. By default loc and scale are
        fixed from the observed history, so every earlier token is unchanged as the path
        grows and the kv-cache is exact: cached and recomputed (``use_kv_cache=False``)
        decoding give the same samples for the same seed. ``rescale_every_step=True``
        reproduces the reference, which re-runs its scaler over the growing history at every
        step; the tokens of the whole window then change each step, so it recomputes
        everything (no cache).

        ``single_pass=True`` is the reference's ``use_single_pass_sampling``: one path per
        series, fed its own forecast mean, and at each step ``num_samples`` independent draws
        from that step's distribution. Each step's marginal is then conditioned on the mean
        path, not on a sampled history: the "paths" are not coherent sample paths (no
        dependence between steps, and too narrow at long horizons where the uncertainty of
        earlier steps should compound). It is ``num_samples`` times cheaper.

        The flags choose a :class:`~lagllama_gluonts.decoding.DecodingPolicy`; the loop is
        :func:`~lagllama_gluonts.decoding.decode`.

        ``covariates``: the inputs of :data:`COVARIATE_INPUTS` the model was built with; they
        do not depend on the paths, so their features are computed once per call.
        """
        policy = DecodingPolicy.from_options(use_kv_cache, rescale_every_step, single_pass)
        S = num_samples or self.num_parallel_samples
        H = self._horizon(prediction_length)
        loc, scale = self.scale(past_target, past_observed_values)
        filled = self.fill_unobserved(past_target, past_observed_values, loc)
        inputs = DecodingInputs(
            past_target=filled,
            past_observed_values=past_observed_values,
            loc=loc,
            scale=scale,
            past_time_feat=past_time_feat[:, self.max_lag :] if past_time_feat is not None else None,
            future_time_feat=future_time_feat,
            # every token a run can meet: the context's and the horizon's but the last
            covariate_features=self.covariate_features(
                past_observed_values, self.context_length + H - 1, covariates, (filled - loc) / scale
            ),
            horizon=H,
            samples=S,
            nonnegative=nonnegative,
        )
        return decode(self, inputs, policy).reshape(past_target.shape[0], S, H)


def token_mean(nll: torch.Tensor, observed: torch.Tensor) -> torch.Tensor:
    """The mean of ``nll`` over the ``observed`` positions of a whole batch (a scalar)."""
    return (nll * observed).sum() / observed.sum().clamp_min(1.0)
