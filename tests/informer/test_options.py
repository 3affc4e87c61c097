"""The official Informer2020 options: InformerStack (``e_layers`` a list), ``embed`` =
timeF | fixed | learned, ``mix``, the decoder placeholder ``padding`` and the encoder
attention maps (``output_attention``)."""

import logging
import math
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from gluonts.dataset.common import ListDataset

from informer_gluonts import InformerEstimator, InformerModel
from informer_gluonts.estimator import CALENDAR_MARK_FEATURES, TIME_MARKS
from informer_gluonts.module import FixedEmbedding, InformerEncoderStack, TemporalEmbedding, sinusoid_table

TINY = dict(d_model=16, n_heads=2, d_ff=32, dropout=0.0)


@pytest.fixture(autouse=True)
def quiet():
    warnings.filterwarnings("ignore")
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)


def model(**overrides) -> InformerModel:
    kwargs = dict(context_length=96, prediction_length=24, num_time_features=2, lags_seq=[1], **TINY)
    kwargs.update(overrides)
    return InformerModel(**kwargs)


def inputs(m: InformerModel, batch_size: int = 2, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    batch = m.describe_inputs(batch_size).zeros()
    for name, value in batch.items():
        if value.dtype.is_floating_point and "marks" not in name:
            batch[name] = torch.randn(value.shape, generator=generator)
    batch["past_observed_values"] = torch.ones_like(batch["past_target"])
    return batch


def lengths_seen(modules):
    seen = []
    for module in modules:
        module.register_forward_hook(lambda mod, args, out: seen.append((args[0].shape[1], out.shape[1])))
    return seen


# --------------------------------------------------------------------------- InformerStack


def test_informer_stack_runs_encoders_on_halved_inputs_and_concatenates():
    m = model(e_layers=[3, 2, 1]).eval()
    assert isinstance(m.encoder, InformerEncoderStack)
    assert [len(e.layers) for e in m.encoder.encoders] == [3, 2, 1]
    assert [len(e.distilling_layers or []) for e in m.encoder.encoders] == [2, 1, 0]
    encoders = lengths_seen(m.encoder.encoders)
    memory = lengths_seen([m.decoder.layers[0].cross_attention.key_projection])
    with torch.no_grad():
        m.output_distribution(**inputs(m))
    # official EncoderStack: encoder i reads the last L // 2**i tokens; distilling halves
    # the length between its layers; outputs concatenated along time
    assert encoders == [(96, 24), (48, 24), (24, 24)]
    assert memory == [(72, 72)]
    assert len(m.encoder_layers) == 6


def test_single_depth_list_is_a_stack_of_one_and_int_keeps_the_plain_encoder():
    assert isinstance(model(e_layers=[2]).encoder, InformerEncoderStack)
    assert not isinstance(model(e_layers=2).encoder, InformerEncoderStack)


@pytest.mark.parametrize("e_layers, message", [([], "non-empty list"), ([2, 0], "e_layers must be a positive")])
def test_bad_stack_depths_are_refused(e_layers, message):
    with pytest.raises(ValueError, match=message):
        InformerEstimator(freq="h", prediction_length=4, e_layers=e_layers)


# --------------------------------------------------------------------------- embed


def test_fixed_embedding_is_the_frozen_sinusoid_table():
    table = sinusoid_table(13, 8)
    position, channel = 5, 2
    expected = math.sin(position * math.exp(channel * -(math.log(10000.0) / 8)))
    assert table[position, channel].item() == pytest.approx(expected, abs=1e-6)
    emb = FixedEmbedding(13, 8)
    assert list(emb.parameters()) == [] and "table" not in emb.state_dict()
    torch.testing.assert_close(emb(torch.tensor([5])), table[5:6])


@pytest.mark.parametrize("embed, trainable", [("fixed", 0), ("learned", (13 + 32 + 7 + 24 + 4) * 16)])
def test_temporal_embedding_sums_one_table_per_mark(embed, trainable):
    temporal = TemporalEmbedding(16, embed)
    assert sum(p.numel() for p in temporal.parameters()) == trainable
    marks = torch.tensor([[[12, 31, 6, 23, 3]]], dtype=torch.float)
    expected = sum(table(marks[..., i].long()) for i, table in enumerate(temporal.tables))
    torch.testing.assert_close(temporal(marks), expected)


def test_timef_has_no_marks_and_other_embeds_need_them():
    assert "past_time_marks" not in model().describe_inputs()
    m = model(embed="learned")
    spec = m.describe_inputs(2)
    assert spec["past_time_marks"].shape == (2, 97, 5) and spec["future_time_marks"].shape == (2, 24, 5)
    batch = inputs(m)
    out = m.output_distribution(**batch).mean
    batch["future_time_marks"][..., 3] = 7.0  # another hour changes the forecast
    assert not torch.allclose(out, m.output_distribution(**batch).mean)


def test_estimator_computes_the_official_calendar_marks():
    est = InformerEstimator(freq="h", prediction_length=4, embed="fixed")
    assert est.time_features == []  # the embedding carries the calendar, not the token inputs
    start = pd.Period("2021-03-07 22:00", freq="h")
    entry = next(
        iter(
            est.create_transformation().apply(
                [{"start": start, "target": np.zeros(5, dtype=np.float32)}], is_train=False
            )
        )
    )
    marks = entry[TIME_MARKS]
    assert marks.shape == (len(CALENDAR_MARK_FEATURES), 5 + 4)
    # 2021-03-07 is a Sunday (weekday 6); the next day is a Monday
    np.testing.assert_array_equal(marks[:, 0], [3, 7, 6, 22, 0])
    np.testing.assert_array_equal(marks[:, 2], [3, 8, 0, 0, 0])


@pytest.mark.parametrize("embed", ["fixed", "learned"])
def test_estimator_trains_and_serializes_with_calendar_embeddings(embed, tmp_path):
    from gluonts.model.predictor import Predictor

    data = ListDataset(
        [{"start": pd.Period("2021-01-01", freq="h"), "target": np.sin(np.arange(300) / 4).astype(np.float32)}],
        freq="h",
    )
    est = InformerEstimator(
        freq="h",
        prediction_length=6,
        context_length=24,
        lags_seq=[1],
        embed=embed,
        batch_size=8,
        num_batches_per_epoch=2,
        trainer_kwargs={"max_steps": 2, "enable_progress_bar": False, "enable_model_summary": False},
        **TINY,
    )
    predictor = est.train(data)
    predictor.serialize(tmp_path)
    forecast = next(iter(Predictor.deserialize(tmp_path).predict(data, num_samples=5)))
    assert forecast.samples.shape == (5, 6)


def test_unknown_embed_is_refused():
    with pytest.raises(ValueError, match="embed must be one of"):
        InformerEstimator(freq="h", prediction_length=4, embed="timef")


# --------------------------------------------------------------------------- mix, padding


def test_mix_is_the_decoder_self_attention_option_only():
    mixed, plain = model(mix=True), model(mix=False)
    assert mixed.decoder.layers[0].self_attention.mix and not plain.decoder.layers[0].self_attention.mix
    for m in (mixed, plain):
        assert not m.decoder.layers[0].cross_attention.mix
        assert not any(layer.self_attention.mix for layer in m.encoder_layers)
    plain.load_state_dict(mixed.state_dict())  # same weights, other wiring
    batch = inputs(mixed)
    torch.manual_seed(0)
    a = mixed.eval().output_distribution(**batch).mean
    torch.manual_seed(0)
    b = plain.eval().output_distribution(**batch).mean
    assert not torch.allclose(a, b)


def test_padding_sets_the_horizon_placeholders():
    zero, one = model(padding=0, lags_seq=[]), model(padding=1, lags_seq=[])
    one.load_state_dict(zero.state_dict())  # same static embeddings
    batch = inputs(zero)
    tokens0, _, _ = zero._tokens(**batch)
    tokens1, _, _ = one._tokens(**batch)
    # feature 0 is the scaled value (lag 0), feature 1 its observed flag
    assert (tokens0[:, 96:, 0] == 0).all() and (tokens1[:, 96:, 0] == 1).all()
    assert (tokens1[:, 96:, 1] == 0).all()  # still flagged unobserved
    torch.testing.assert_close(tokens0[:, :96], tokens1[:, :96])
    with pytest.raises(ValueError, match="padding must be 0 or 1"):
        InformerEstimator(freq="h", prediction_length=4, padding=2)


# --------------------------------------------------------------------------- attention maps


def test_full_attention_maps_are_the_softmax_weights():
    m = model(attention="full", e_layers=2, distil=True).eval()
    batch = inputs(m)
    maps = m.encoder_attention(**batch)
    assert [tuple(a.shape) for a in maps] == [(2, 2, 96, 96), (2, 2, 48, 48)]
    torch.testing.assert_close(maps[0].sum(-1), torch.ones(2, 2, 96))
    # recompute layer 0's weights by hand from its input
    seen = []
    layer = m.encoder_layers[0].self_attention
    handle = layer.register_forward_hook(lambda mod, args, out: seen.append(args[0]))
    with torch.no_grad():
        m.output_distribution(**batch)
    handle.remove()
    x = seen[0]
    q = layer.query_projection(x).view(2, 96, 2, 8).transpose(1, 2)
    k = layer.key_projection(x).view(2, 96, 2, 8).transpose(1, 2)
    expected = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(8), dim=-1)
    torch.testing.assert_close(maps[0], expected, rtol=1e-4, atol=1e-5)
    # recording is switched off again
    assert not layer.inner_attention.record_attention and layer.inner_attention.attention_map is None


def test_probsparse_maps_have_uniform_lazy_rows():
    m = model(attention="prob", e_layers=1, factor=1).eval()
    maps = m.encoder_attention(**inputs(m))
    weights = maps[0]
    assert weights.shape == (2, 2, 96, 96)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 2, 96))
    uniform = torch.isclose(weights, torch.full_like(weights, 1 / 96)).all(-1)
    active = math.ceil(math.log(96))  # u = factor * ceil(ln L_Q) queries per head attend for real
    assert (uniform.sum(-1) >= 96 - active).all() and (uniform.sum(-1) < 96).all()


def test_stack_attention_covers_every_encoder_layer():
    m = model(e_layers=[2, 1], attention="full").eval()
    maps = m.encoder_attention(**inputs(m))
    assert [a.shape[-1] for a in maps] == [96, 48, 48]
