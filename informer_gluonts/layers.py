"""
The encoder and decoder of Informer, built from the attention of :mod:`.attention`.

Read top to bottom: the conv feed-forward block, the encoder layer, self-attention distilling
(paper Eq. 5), the encoder and the official ``EncoderStack``, the decoder layer and the
decoder, and finally :func:`build_encoder` / :func:`build_decoder`, which assemble them the way
:class:`~informer_gluonts.module.InformerModel` uses them.
"""

from typing import List, Optional, Union

import torch
import torch.nn as nn
import torch.nn.functional as F

from .attention import AttentionLayer, make_attention

# --------------------------------------------------------------------------
# Encoder
# --------------------------------------------------------------------------


class ConvFeedForward(nn.Module):
    """
    Position-wise feed-forward written as two kernel-1 convolutions (the
    official code's form; equivalent to two Linear layers).
    """

    def __init__(self, d_model: int, d_ff: int, dropout: float, activation: str) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(d_model, d_ff, kernel_size=1)
        self.conv2 = nn.Conv1d(d_ff, d_model, kernel_size=1)
        self.dropout = nn.Dropout(dropout)
        self.activation = F.gelu if activation == "gelu" else F.relu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.dropout(self.activation(self.conv1(x.transpose(1, 2))))
        return self.dropout(self.conv2(y).transpose(1, 2))


class EncoderLayer(nn.Module):
    """Post-norm block: self-attention, then the conv feed-forward."""

    def __init__(
        self,
        self_attention: AttentionLayer,
        d_model: int,
        d_ff: int,
        dropout: float,
        activation: str,
    ) -> None:
        super().__init__()
        self.self_attention = self_attention
        self.feed_forward = ConvFeedForward(d_model, d_ff, dropout, activation)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm1(x + self.dropout(self.self_attention(x, x, x)))
        return self.norm2(x + self.feed_forward(x))


class DistillingLayer(nn.Module):
    """
    Self-attention distilling (paper Eq. 5): a circular width-3 convolution,
    BatchNorm, ELU, and a stride-2 max-pool that halves the sequence. Each
    encoder layer thus attends over half as many tokens as the previous one
    and keeps only the dominant features.
    """

    def __init__(self, d_model: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(
            d_model,
            d_model,
            kernel_size=3,
            padding=1,
            padding_mode="circular",
        )
        self.norm = nn.BatchNorm1d(d_model)
        self.activation = nn.ELU()
        self.pool = nn.MaxPool1d(kernel_size=3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.activation(self.norm(self.conv(x.transpose(1, 2))))
        return self.pool(y).transpose(1, 2)  # (B, ceil(L / 2), d_model)


class InformerEncoder(nn.Module):
    """
    A stack of encoder layers with a distilling layer between consecutive
    ones (none after the last) and a final LayerNorm.
    """

    def __init__(
        self,
        layers: List[EncoderLayer],
        distilling_layers: Optional[List[DistillingLayer]],
        d_model: int,
    ) -> None:
        super().__init__()
        self.layers = nn.ModuleList(layers)
        self.distilling_layers = nn.ModuleList(distilling_layers) if distilling_layers else None
        self.norm = nn.LayerNorm(d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if self.distilling_layers is not None and i < len(self.distilling_layers):
                x = self.distilling_layers[i](x)
        return self.norm(x)


class InformerEncoderStack(nn.Module):
    """
    The official ``EncoderStack`` (model ``informerstack``): encoder ``i`` reads the last
    ``L // 2**i`` tokens (the whole input, its second half, its last quarter ...), and their
    outputs are concatenated along time, so the decoder attends over all of them.
    """

    def __init__(self, encoders: List[InformerEncoder]) -> None:
        super().__init__()
        self.encoders = nn.ModuleList(encoders)

    @property
    def layers(self) -> List[EncoderLayer]:
        return [layer for encoder in self.encoders for layer in encoder.layers]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        length = x.shape[1]
        return torch.cat([encoder(x[:, -max(1, length // 2**i) :]) for i, encoder in enumerate(self.encoders)], dim=1)


# --------------------------------------------------------------------------
# Decoder
# --------------------------------------------------------------------------


class DecoderLayer(nn.Module):
    """
    Post-norm block: masked self-attention over start token + placeholders,
    cross-attention into the encoder output, then the conv feed-forward.
    """

    def __init__(
        self,
        self_attention: AttentionLayer,
        cross_attention: AttentionLayer,
        d_model: int,
        d_ff: int,
        dropout: float,
        activation: str,
    ) -> None:
        super().__init__()
        self.self_attention = self_attention
        self.cross_attention = cross_attention
        self.feed_forward = ConvFeedForward(d_model, d_ff, dropout, activation)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.norm3 = nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
        x = self.norm1(x + self.dropout(self.self_attention(x, x, x)))
        x = self.norm2(x + self.dropout(self.cross_attention(x, memory, memory)))
        return self.norm3(x + self.feed_forward(x))


class InformerDecoder(nn.Module):
    """A stack of decoder layers and a final LayerNorm."""

    def __init__(self, layers: List[DecoderLayer], d_model: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(layers)
        self.norm = nn.LayerNorm(d_model)

    def forward(self, x: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x, memory)
        return self.norm(x)


# --------------------------------------------------------------------------
# Assembly
# --------------------------------------------------------------------------


def attention_layer(
    kind: str,
    *,
    masked: bool,
    mix: bool,
    d_model: int,
    n_heads: int,
    factor: int,
    dropout: float,
) -> AttentionLayer:
    """A multi-head attention layer around an inner attention of ``kind`` (``prob``/``full``)."""
    return AttentionLayer(make_attention(kind, factor, masked, dropout), d_model, n_heads, mix=mix)


def build_encoder(
    e_layers: Union[int, List[int]],
    *,
    attention: str,
    distil: bool,
    d_model: int,
    n_heads: int,
    d_ff: int,
    factor: int,
    dropout: float,
    activation: str,
) -> Union[InformerEncoder, InformerEncoderStack]:
    """
    One encoder of ``e_layers`` layers, or, for a list of depths, the official
    ``InformerStack``: one encoder per depth (:class:`InformerEncoderStack`).
    """
    heads = dict(d_model=d_model, n_heads=n_heads, factor=factor, dropout=dropout)

    # Creation order (each layer's attention, then its feed-forward and norms; then the
    # distilling layers; then the final norm) fixes the random initial weights, hence seeded
    # forecasts, and the state_dict keys of saved models: keep it.
    def encoder(depth: int) -> InformerEncoder:
        layers = [
            EncoderLayer(
                attention_layer(attention, masked=False, mix=False, **heads),
                d_model,
                d_ff,
                dropout,
                activation,
            )
            for _ in range(depth)
        ]
        distilling = [DistillingLayer(d_model) for _ in range(depth - 1)] if distil else None
        return InformerEncoder(layers, distilling, d_model)

    if isinstance(e_layers, (list, tuple)):
        return InformerEncoderStack([encoder(depth) for depth in e_layers])
    return encoder(e_layers)


def build_decoder(
    d_layers: int,
    *,
    attention: str,
    mix: bool,
    d_model: int,
    n_heads: int,
    d_ff: int,
    factor: int,
    dropout: float,
    activation: str,
) -> InformerDecoder:
    """
    ``d_layers`` decoder layers: causal (masked) self-attention of kind ``attention`` that
    "mixes" heads as the official code does when ``mix``, and canonical cross-attention, as in
    the paper.
    """
    heads = dict(d_model=d_model, n_heads=n_heads, factor=factor, dropout=dropout)
    layers = [
        DecoderLayer(
            attention_layer(attention, masked=True, mix=mix, **heads),
            attention_layer("full", masked=False, mix=False, **heads),
            d_model,
            d_ff,
            dropout,
            activation,
        )
        for _ in range(d_layers)
    ]
    return InformerDecoder(layers, d_model)
