"""
The embeddings of Informer's encoder and decoder inputs: what turns one feature vector per
time step into a ``d_model``-wide token.

Read top to bottom: the token embedding (a width-3 convolution over the features), the fixed
sin/cos positional encoding, the calendar-mark tables of the official ``TemporalEmbedding``
(``embed="fixed"`` or ``"learned"``), and :class:`DataEmbedding`, their sum, which is the one
the model uses.
"""

import math
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F


class TokenEmbedding(nn.Module):
    """
    Map each time step's input features to ``d_model`` with a width-3
    convolution, so a token already sees its two neighbours (official
    Informer ``TokenEmbedding``: circular padding, no bias, Kaiming init).
    """

    def __init__(self, c_in: int, d_model: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(
            c_in,
            d_model,
            kernel_size=3,
            padding=1,
            padding_mode="circular",
            bias=False,
        )
        nn.init.kaiming_normal_(self.conv.weight, mode="fan_in", nonlinearity="leaky_relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # (B, L, c_in) -> (B, L, d_model); Conv1d wants channels first.
        return self.conv(x.transpose(1, 2)).transpose(1, 2)


class SinusoidalPositionalEncoding(nn.Module):
    """
    Fixed sin/cos position codes of "Attention is all you need"; sin on even
    channels, cos on odd ones, as in the official Informer code.
    """

    def __init__(self, d_model: int) -> None:
        super().__init__()
        self.d_model = d_model

    def forward(self, length: int, device: torch.device) -> torch.Tensor:
        position = torch.arange(length, device=device).float().unsqueeze(1)
        div_term = torch.exp(
            torch.arange(0, self.d_model, 2, device=device).float() * -(math.log(10000.0) / self.d_model)
        )
        pe = torch.zeros(length, self.d_model, device=device)
        pe[:, 0::2] = torch.sin(position * div_term)
        pe[:, 1::2] = torch.cos(position * div_term)[:, : self.d_model // 2]
        return pe.unsqueeze(0)  # (1, L, d_model)


# The official code's calendar marks (``utils/timefeatures.py`` with ``timeenc=0``) and the
# size of each one's table: month 1..12, day 1..31, weekday 0..6, hour 0..23, minute // 15.
CALENDAR_MARKS = (("month", 13), ("day", 32), ("weekday", 7), ("hour", 24), ("minute", 4))
# The values of ``embed``: calendar features as token inputs, or frozen / trained mark tables.
EMBEDS = ("timeF", "fixed", "learned")


def sinusoid_table(rows: int, d_model: int) -> torch.Tensor:
    """The official ``FixedEmbedding`` table: sin/cos codes of 0 .. rows - 1."""
    position = torch.arange(rows).float().unsqueeze(1)
    div_term = torch.exp(torch.arange(0, d_model, 2).float() * -(math.log(10000.0) / d_model))
    table = torch.zeros(rows, d_model)
    table[:, 0::2] = torch.sin(position * div_term)
    table[:, 1::2] = torch.cos(position * div_term)[:, : d_model // 2]
    return table


class FixedEmbedding(nn.Module):
    """A lookup in a frozen sinusoidal table (official ``FixedEmbedding``): never trained, so
    it is a buffer, recomputed on construction rather than stored in checkpoints."""

    def __init__(self, rows: int, d_model: int) -> None:
        super().__init__()
        self.register_buffer("table", sinusoid_table(rows, d_model), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.embedding(x, self.table)


class TemporalEmbedding(nn.Module):
    """
    The official ``TemporalEmbedding``: one embedding per calendar mark (month, day, weekday,
    hour, minute // 15), summed. ``fixed`` uses frozen sinusoidal tables, ``learned`` trained
    ``nn.Embedding`` tables. Takes the integer marks (B, L, 5).
    """

    def __init__(self, d_model: int, kind: str) -> None:
        super().__init__()
        assert kind in ("fixed", "learned"), kind
        make = FixedEmbedding if kind == "fixed" else nn.Embedding
        self.tables = nn.ModuleList([make(rows, d_model) for _, rows in CALENDAR_MARKS])

    def forward(self, marks: torch.Tensor) -> torch.Tensor:
        marks = marks.long()
        return sum(table(marks[..., i]) for i, table in enumerate(self.tables))


class DataEmbedding(nn.Module):
    """Token embedding + positional encoding (+ the temporal embedding of the calendar marks
    when ``embed`` is ``fixed`` or ``learned``), then dropout."""

    def __init__(self, c_in: int, d_model: int, dropout: float, embed: str = "timeF") -> None:
        super().__init__()
        self.token = TokenEmbedding(c_in, d_model)
        self.position = SinusoidalPositionalEncoding(d_model)
        # timeF: the calendar features are part of the token's inputs (no extra module)
        self.temporal = TemporalEmbedding(d_model, embed) if embed != "timeF" else None
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, marks: Optional[torch.Tensor] = None) -> torch.Tensor:
        tokens = self.token(x) + self.position(x.shape[1], x.device)
        if self.temporal is not None:
            tokens = tokens + self.temporal(marks)
        return self.dropout(tokens)
