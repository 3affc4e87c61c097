"""predict_df per group of items on a local Ray cluster (2 CPUs) equals the same groups run
here, for the same seed."""

import numpy as np
import pandas as pd
import pytest

from lagllama_gluonts.common.distributed import assign_groups, predict_df_grouped
from lagllama_gluonts.common.validation import DataError

from conftest import CORPUS


def corpus_long() -> pd.DataFrame:
    parts = [
        pd.read_csv(CORPUS / f"{name}.csv", usecols=["ds", "y"]).iloc[-120:].assign(item=name)
        for name in ("SF_hospital_load", "SF_PV", "load_rte", "kaggle_energy_price")
    ]
    return pd.concat(parts, ignore_index=True).assign(ds=lambda f: pd.to_datetime(f["ds"]))


@pytest.fixture(scope="module")
def predictor():
    from lagllama_gluonts import load_predictor

    return load_predictor(None, prediction_length=6, context_length=32, num_parallel_samples=8, device="cpu")


def test_groups_follow_first_row_order_and_bad_arguments_are_named():
    frame = pd.DataFrame({"id": ["b", "a", "b", "c", "d"]})
    assert assign_groups(frame, "id", 2).tolist() == [0, 1, 0, 0, 1]
    with pytest.raises(DataError, match="no column 'store'"):
        assign_groups(frame, "store", 2)
    with pytest.raises(ValueError, match="groups must be a positive integer"):
        assign_groups(frame, "id", 0)


def test_grouped_forecasts_depend_on_the_seed_not_on_the_order_of_rows(predictor):
    frame = corpus_long()
    kwargs = dict(id_column="item", timestamp_column="ds", target="y", groups=2, freq="h")
    a = predict_df_grouped(predictor, frame, seed=5, **kwargs)
    # each item's rows reversed in time, the items in the same first-row order: same groups, same seeds
    shuffled = pd.concat([rows.iloc[::-1] for _, rows in frame.groupby("item", sort=False)])
    b = predict_df_grouped(predictor, shuffled, seed=5, **kwargs)
    assert list(a["item"].drop_duplicates()) == list(frame["item"].drop_duplicates())
    pd.testing.assert_frame_equal(a.set_index(["item", "ds"]).sort_index(), b.set_index(["item", "ds"]).sort_index())
    c = predict_df_grouped(predictor, frame, seed=6, **kwargs)
    assert not np.allclose(a["mean"], c["mean"])


@pytest.mark.slow
def test_ray_local_cluster_equals_the_local_run(predictor):
    ray = pytest.importorskip("ray")
    from lagllama_gluonts.common.distributed import predict_df_ray

    frame = corpus_long()
    kwargs = dict(id_column="item", timestamp_column="ds", target="y", groups=2, seed=1, freq="h")
    local = predict_df_grouped(predictor, frame, **kwargs)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        distributed = predict_df_ray(predictor, frame, **kwargs)
    finally:
        ray.shutdown()
    pd.testing.assert_frame_equal(distributed, local)


def test_a_nixtla_table_is_grouped_without_naming_its_columns(predictor):
    frame = corpus_long().rename(columns={"item": "unique_id"})
    named = predict_df_grouped(
        predictor, frame, id_column="unique_id", timestamp_column="ds", target="y", groups=2, seed=3, freq="h"
    )
    guessed = predict_df_grouped(predictor, frame, groups=2, seed=3, freq="h")
    pd.testing.assert_frame_equal(guessed, named)
    assert list(guessed.columns[:2]) == ["unique_id", "ds"]
    with pytest.raises(DataError, match=r"needs an item column: name it with id_column="):
        predict_df_grouped(predictor, frame.drop(columns="unique_id"), id_column=None, freq="h")
