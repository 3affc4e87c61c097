"""benchmarks/etth1_informer.py reads ETTh1 through the shared table reader, unchanged."""

import etth1_informer
import numpy as np
import pandas as pd

from conftest import ETTH1


def test_load_ot_reads_the_paper_series_standardised_on_the_train_rows():
    dates, z, mean, std = etth1_informer.load_ot(ETTH1)
    raw = pd.read_csv(ETTH1, parse_dates=["date"])
    ot = raw["OT"].to_numpy(dtype=np.float64)
    assert len(dates) == len(z) == len(raw) == 17420
    assert (dates == pd.DatetimeIndex(raw["date"])).all()
    assert mean == ot[: etth1_informer.TRAIN_END].mean() and std == ot[: etth1_informer.TRAIN_END].std()
    np.testing.assert_array_equal(z, ((ot - mean) / std).astype(np.float32))
    assert abs(z[: etth1_informer.TRAIN_END].mean()) < 1e-4
    assert pd.Period(dates[0], freq=etth1_informer.FREQ) == pd.Period("2016-07-01 00:00", freq="h")
