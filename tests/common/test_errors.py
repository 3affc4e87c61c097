"""Errors carry the parameter at fault; a front end renders them with its own flags."""

import pandas as pd
import pytest

from lagllama_gluonts.common.dataframes import dataset_from_df
from lagllama_gluonts.common.errors import DataError, message_with_flags
from lagllama_gluonts.common.tables import read_series_table, read_table

FLAGS = {"item_column": "--item-column", "targets": "--target", "time_column": "--time-column", "freq": "--freq"}


def test_a_flag_replaces_the_parameter_only_where_it_is_named():
    message = "pass freq= (or pd.Period('2020', freq='h')); one targets= column, not target="
    assert message_with_flags(message, {"freq": "--freq", "target": "-t"}) == (
        "pass --freq (or pd.Period('2020', freq='h')); one targets= column, not -t"
    )


def test_the_data_layer_names_parameters_and_the_old_reader_keeps_the_flags(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("item,ds,y\na,2021-01-01,1\na,2021-01-02,2\n")
    with pytest.raises(DataError) as api:
        read_table(path, ["y"], item_column="store")
    assert api.value.field == "item_column" and "(item_column=)" in str(api.value)
    with pytest.raises(DataError) as cli:
        read_series_table(path, ["y"], item_column="store")
    assert str(cli.value) == api.value.message_for(FLAGS) and "(--item-column)" in str(cli.value)
    assert cli.value.field == "item_column"


def test_a_frequency_error_names_freq(tmp_path):
    frame = pd.DataFrame({"item_id": ["a", "a"], "timestamp": ["2021-01-01", "2021-01-02"], "target": [1.0, 2.0]})
    with pytest.raises(DataError, match=r"pass freq=$") as error:
        dataset_from_df(frame)
    assert error.value.field == "freq"
    assert error.value.message_for(FLAGS).endswith("pass --freq")
