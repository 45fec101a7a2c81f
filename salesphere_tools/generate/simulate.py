"""The day-by-day simulation of stores, stock and customers: the ground truth.

Each store keeps physical stock per SKU. Customers arrive following the calendar
(weekday rhythm, promotions, opening hours); a line whose SKU is out of stock is lost
(or shortened to what is left), so sales never exceed what is on the shelf, except for
the injected "oversell" defects. Purchasing reorders when stock falls under the reorder
point and the goods arrive after the supplier's lead time; stores count a rotating
slice of the catalog every morning (and everything on day one), transfer stock to
starving neighbours, write off damaged goods, and silently lose a few units to
shrinkage that only the next count reveals. Customers return some purchases days later.

Every action is applied in local time order within a store, so a consumer that replays
the events (last count, then movements) never sees a sale exceed the stock on hand.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import NamedTuple

import numpy as np

from salesphere_tools.generate.calendar import (
    DayPlan,
    plan_day,
    store_minutes,
    web_minutes,
)
from salesphere_tools.generate.catalog import (
    AVG_LINES_PER_TICKET,
    AVG_UNITS_PER_LINE,
    ProductSpec,
    StoreSpec,
    build_products,
    build_stores,
)
from salesphere_tools.generate.config import GeneratorConfig
from salesphere_tools.generate.demand import DayDemand
from salesphere_tools.generate.events import SECONDS_PER_DAY, SimEvent
from salesphere_tools.generate.ordering import Buyers, OrderLine, continued_history, deliveries
from salesphere_tools.generate.totals import SalesTotals

LINES = (1, 2, 3, 4, 5)
LINES_CW = (45, 73, 88, 96, 100)  # cumulative; mean ~1.95
UNITS = (1, 2, 3, 4)
UNITS_CW = (70, 90, 97, 100)  # cumulative; mean ~1.43
COUNT_AT = 6 * 3600
RECEIPTS_AT = 7 * 3600
TRANSFER_OUT_AT = 7 * 3600 + 1800
TRANSFER_IN_AT = 9 * 3600
DAMAGE_AT = 22 * 3600 + 1800
SHRINK_AT = 23 * 3600
CYCLE_COUNT_DAYS = 7  # every SKU is counted once a week
STORE_RETURN_RATE = 0.015
WEB_RETURN_RATE = 0.04
#: Per money line, chance of an injected oversell when the shelf is empty (defects on).
OVERSELL_RATE = 0.02

# Timeline action kinds, in the order they run when they share a second.
_COUNT, _RECEIPT, _XFER_OUT, _XFER_IN, _RETURN, _TICKET, _DAMAGE, _SHRINK = range(8)


class Basket(NamedTuple):
    """One customer's lines: positions ``first:end`` of the day's pre-drawn SKUs and units."""

    first: int
    end: int


class Arrival(NamedTuple):
    """A supplier delivery due at a store: its document and (SKU index, units) lines."""

    store: int
    doc: str
    lines: list[tuple[int, int]]


class TransferLeg(NamedTuple):
    """One side of a transfer between two stores (``other`` is the counterpart store)."""

    sku: int
    qty: int
    other: int
    doc: str


class Action(NamedTuple):
    """Something that happens in a store at second ``sod`` of its local day.

    Actions sort by time, then by kind (counts before receipts before sales at the same
    second), then by the order they were planned.
    """

    sod: int
    kind: int
    seq: int
    payload: Basket | _Pending | Arrival | TransferLeg | None = None


@dataclass(slots=True)
class DayResult:
    """Everything that happened on one simulated day, per store in local time order."""

    day: int
    plan: DayPlan
    events: list[SimEvent]
    #: (store index, local day index, utc day index) -> the sales sums of that day.
    totals: dict[tuple[int, int, int], SalesTotals] = field(default_factory=dict)
    lost_lines: int = 0
    shrinkage_units: int = 0
    oversells: int = 0


@dataclass(slots=True)
class _Pending:
    """A return waiting for its day."""

    sale: SimEvent
    qty: int


class Simulation:
    """Stateful simulator; iterate :meth:`days` once, in order."""

    def __init__(self, config: GeneratorConfig) -> None:
        self.config = config
        self.rng = random.Random(f"salesphere:{config.seed}:simulation")
        # Defect decisions use their own stream so the base story barely depends on them.
        self.defect_rng = random.Random(f"salesphere:{config.seed}:oversell")
        self.stores: list[StoreSpec] = build_stores(config.stores, self.rng)
        self.products: list[ProductSpec] = build_products(
            config.skus, self.rng, config.tickets_per_store_day
        )
        k = len(self.products)
        self.prices = [p.list_price_cents for p in self.products]
        self.reorder = [p.reorder_point for p in self.products]
        self.lead = [p.lead_time_days for p in self.products]
        self.sku_range = range(k)
        pop = [p.popularity for p in self.products]
        self.pop_cw = _cumulative(pop)
        self.promo_cw = _cumulative(
            [w * (2.5 if p.promo else 1.0) for w, p in zip(pop, self.products, strict=True)]
        )
        self.is_promo = [p.promo for p in self.products]
        daily_units = AVG_LINES_PER_TICKET * AVG_UNITS_PER_LINE
        self.up_to: list[list[int]] = []
        self.stock: list[list[int]] = []
        self.pending: list[list[int]] = []  # arrival day of the open order, -1 if none
        for store in self.stores:
            volume = (
                config.web_orders_per_day
                if store.online
                else (config.tickets_per_store_day * store.size)
            )
            levels = [
                self.reorder[i] + math.ceil(volume * daily_units * pop[i] * 12)
                for i in self.sku_range
            ]
            self.up_to.append(levels)
            self.stock.append([int(level * self.rng.uniform(0.55, 1.0)) for level in levels])
            self.pending.append([-1] * k)
        self.arrivals: dict[int, list[Arrival]] = {}
        self.returns: dict[tuple[int, int], list[_Pending]] = {}
        self.web_seq = 0
        self.doc_seq = 0
        self.transfer_seq = 0
        self.store_minutes = [store_minutes(w) for w in range(7)]
        self.web_minutes = web_minutes()
        self.demand: DayDemand | None = (
            DayDemand(self.products, config.start, config.days, config.seed)
            if config.history
            else None
        )
        self.buyers: Buyers | None = None
        if config.history_days:
            self._continue_history()

    def _continue_history(self) -> None:
        """The live days follow ``history_days`` of daily history (generate.legacy's): the
        demand continues the history's model, and the stock and open orders are what the
        buyers (generate.ordering) left at its end."""
        config, k = self.config, len(self.products)
        days = config.history_days
        first = config.start - timedelta(days=days)
        _, products, self.buyers, start = continued_history(
            stores=config.stores,
            skus=config.skus,
            days=days,
            seed=config.seed,
            live_start=config.start,
            tickets_per_store_day=config.tickets_per_store_day,
            web_orders_per_day=config.web_orders_per_day,
        )
        assert products == self.products, "the buyers ordered another catalogue"
        self.demand = DayDemand(self.products, first, days, config.seed, offset=days)
        for index in range(len(self.stores)):
            self.stock[index] = start.stock[index * k : (index + 1) * k].tolist()
        self._schedule(start.open_lines)

    def _schedule(self, lines: list[OrderLine]) -> None:
        """The buyers' orders become deliveries on their arrival day."""
        for day, items in deliveries(lines).items():
            for store, doc, order_lines in items:
                self.arrivals.setdefault(day, []).append(
                    Arrival(store, doc, [(line.sku, line.units) for line in order_lines])
                )
                for line in order_lines:
                    current = self.pending[store][line.sku]
                    self.pending[store][line.sku] = day if current < 0 else min(current, day)

    # -- the day loop --------------------------------------------------------------------

    def days(self) -> Iterator[DayResult]:
        """Yield one :class:`DayResult` per simulated day, in order."""
        for day in range(self.config.days):
            yield self._simulate_day(day)

    def _simulate_day(self, day: int) -> DayResult:
        today = self.config.start + timedelta(days=day)
        plan = plan_day(today)
        result = DayResult(day=day, plan=plan, events=[])
        transfers = self._plan_transfers(day, plan)
        for index, store in enumerate(self.stores):
            closed = not store.online and plan.store_factor == 0
            if closed:
                self._postpone_arrivals(day, index)
                continue
            self._run_store_day(day, index, plan, transfers.get(index, []), result)
        if self.buyers is not None:
            self._buyers_review(day, result.events)
        else:
            self._reorder(day)
        return result

    def _run_store_day(
        self,
        day: int,
        index: int,
        plan: DayPlan,
        transfers: list[tuple[int, TransferLeg]],
        result: DayResult,
    ) -> None:
        store = self.stores[index]
        rng = self.rng
        weekday = plan.day.weekday()
        actions: list[Action] = []

        def add(
            sod: int, kind: int, payload: Basket | _Pending | Arrival | TransferLeg | None
        ) -> None:
            actions.append(Action(sod, kind, len(actions) + 1, payload))

        # Day one starts from a full snapshot at midnight (the go-live count), then
        # each morning a rotating slice is counted before opening.
        add(0 if day == 0 else COUNT_AT, _COUNT, None)
        for n, arrival in enumerate(self._arrivals_for(day, index)):
            add(RECEIPTS_AT + n * 15, _RECEIPT, arrival)
        for kind, payload in transfers:
            at = TRANSFER_OUT_AT if kind == _XFER_OUT else TRANSFER_IN_AT
            add(at, kind, payload)
        for pending in self.returns.pop((day, index), []):
            add(self._random_sod(store, weekday), _RETURN, pending)
        factor = plan.web_factor if store.online else plan.store_factor * store.size
        weights = self.promo_cw if plan.promo_depth[1] > 0 else self.pop_cw
        if self.demand is not None:
            factor, weights = self.demand.for_store(day, store, plan, self.is_promo)
        base = (
            self.config.web_orders_per_day if store.online else (self.config.tickets_per_store_day)
        )
        tickets = max(0, round(base * factor * rng.uniform(0.9, 1.1)))
        table = self.web_minutes if store.online else self.store_minutes[weekday]
        minutes = rng.choices(range(1440), cum_weights=table, k=tickets)
        # Draw every basket of the day at once: one choices() call per list, not per ticket.
        sizes = rng.choices(LINES, cum_weights=LINES_CW, k=tickets)
        skus = rng.choices(self.sku_range, cum_weights=weights, k=sum(sizes))
        units = rng.choices(UNITS, cum_weights=UNITS_CW, k=len(skus))
        first = 0
        for minute, size in zip(minutes, sizes, strict=True):
            add(minute * 60 + rng.randrange(60), _TICKET, Basket(first, first + size))
            first += size
        add(DAMAGE_AT, _DAMAGE, None)
        if not store.online:
            add(SHRINK_AT, _SHRINK, None)
        actions.sort()

        _StoreDay(self, day, index, plan, result, skus, units).run(actions)

    # -- helpers shared with _StoreDay --------------------------------------------------------

    def _random_sod(self, store: StoreSpec, weekday: int) -> int:
        table = self.web_minutes if store.online else self.store_minutes[weekday]
        minute = self.rng.choices(range(1440), cum_weights=table, k=1)[0]
        return minute * 60 + self.rng.randrange(60)

    def schedule_return(self, sale: SimEvent) -> None:
        """Decide now whether (and when) a customer brings this line back."""
        rate = WEB_RETURN_RATE if self.stores[sale.store].online else STORE_RETURN_RATE
        if self.rng.random() >= rate:
            return
        delay = 1 + min(29, int(self.rng.expovariate(1 / 6)))
        qty = sale.qty if sale.qty == 1 else self.rng.randint(1, sale.qty)
        target = sale.day + delay
        if target < self.config.days:
            self.returns.setdefault((target, sale.store), []).append(_Pending(sale, qty))

    def next_doc(self, prefix: str) -> str:
        self.doc_seq += 1
        return f"{prefix}-{self.doc_seq:07d}"

    def _arrivals_for(self, day: int, store: int) -> list[Arrival]:
        arrivals = self.arrivals.get(day, [])
        mine = [a for a in arrivals if a[0] == store]
        self.arrivals[day] = [a for a in arrivals if a[0] != store]
        return mine

    def _postpone_arrivals(self, day: int, store: int) -> None:
        """Suppliers do not deliver to closed stores; the truck comes the next day."""
        for arrival in self._arrivals_for(day, store):
            self.arrivals.setdefault(day + 1, []).append(arrival)
        moved = self.returns.pop((day, store), [])
        if moved:
            self.returns.setdefault((day + 1, store), []).extend(moved)

    def _plan_transfers(self, day: int, plan: DayPlan) -> dict[int, list[tuple[int, TransferLeg]]]:
        """Move stock from a well-stocked store to one running dry, before opening."""
        physical = [i for i, s in enumerate(self.stores) if not s.online]
        plans: dict[int, list[tuple[int, TransferLeg]]] = {}
        if len(physical) < 2 or plan.store_factor == 0:
            return plans
        rng = self.rng
        for _ in range(max(1, len(physical) // 3)):
            sku = rng.choices(self.sku_range, cum_weights=self.pop_cw, k=1)[0]
            point = self.reorder[sku]
            order = physical[:]
            rng.shuffle(order)
            needy = next(
                (
                    s
                    for s in order
                    if self.stock[s][sku] < point
                    and (self.pending[s][sku] < 0 or self.pending[s][sku] > day + 1)
                ),
                None,
            )
            donor = next((s for s in order if self.stock[s][sku] > point + point // 2), None)
            if needy is None or donor is None or needy == donor:
                continue
            spare = self.stock[donor][sku] - point - point // 4
            qty = min(spare, point + point // 2 - self.stock[needy][sku])
            if qty < 1:
                continue
            self.transfer_seq += 1
            doc = f"TR-{self.transfer_seq:06d}"
            plans.setdefault(donor, []).append((_XFER_OUT, TransferLeg(sku, qty, needy, doc)))
            plans.setdefault(needy, []).append((_XFER_IN, TransferLeg(sku, qty, donor, doc)))
        return plans

    def _buyers_review(self, day: int, events: list[SimEvent]) -> None:
        """End of day with buyers: the day's sales join their demand estimate, then the
        suppliers due for review today are ordered (generate.ordering's policy)."""
        assert self.buyers is not None
        k = len(self.products)
        sold = np.zeros(len(self.stores) * k, dtype=np.int64)
        for event in events:
            if event.kind == "sale":
                sold[event.store * k + event.sku] += event.qty
        self.buyers.record_sales(sold)
        stock = np.array([units for store in self.stock for units in store], dtype=np.int64)
        self._schedule(self.buyers.review(day, stock))

    def _reorder(self, day: int) -> None:
        """End of day: order what fell under the reorder point, one invoice per supplier."""
        for index in range(len(self.stores)):
            stock = self.stock[index]
            pending = self.pending[index]
            levels = self.up_to[index]
            orders: dict[tuple[int, str], list[tuple[int, int]]] = {}
            for sku in self.sku_range:
                if stock[sku] < self.reorder[sku] and pending[sku] < 0:
                    arrival = day + max(1, self.lead[sku])
                    pending[sku] = arrival
                    key = (arrival, self.products[sku].supplier)
                    orders.setdefault(key, []).append((sku, levels[sku] - stock[sku]))
            for (arrival, _supplier), lines in orders.items():
                doc = self.next_doc("NF")
                self.arrivals.setdefault(arrival, []).append(Arrival(index, doc, lines))


def _cumulative(weights: list[float]) -> list[float]:
    total = 0.0
    out = []
    for weight in weights:
        total += weight
        out.append(total)
    return out


class _StoreDay:
    """Applies one store's actions for one day, in time order, recording events."""

    __slots__ = (
        "day",
        "events",
        "index",
        "online",
        "plan",
        "result",
        "sim",
        "skus",
        "stamp",
        "stock",
        "store",
        "ticket_seq",
        "units",
    )

    def __init__(
        self,
        sim: Simulation,
        day: int,
        index: int,
        plan: DayPlan,
        result: DayResult,
        skus: list[int],
        units: list[int],
    ) -> None:
        self.skus = skus
        self.units = units
        self.stamp = plan.day.strftime("%Y%m%d")
        self.sim = sim
        self.day = day
        self.index = index
        self.plan = plan
        self.result = result
        self.store = sim.stores[index]
        self.online = self.store.online
        self.stock = sim.stock[index]
        self.events = result.events
        self.ticket_seq = 0

    def run(self, actions: list[Action]) -> None:
        """Apply the day's actions in time order (each payload's type says what it is)."""
        for sod, kind, _seq, payload in actions:
            if isinstance(payload, Basket):
                self.ticket(sod, payload.first, payload.end)
            elif isinstance(payload, _Pending):
                self.give_back(sod, payload)
            elif isinstance(payload, Arrival):
                self.receive(sod, payload)
            elif isinstance(payload, TransferLeg):
                self.transfer(sod, kind == _XFER_OUT, payload)
            elif kind == _COUNT:
                self.count(sod, full=self.day == 0)
            elif kind == _DAMAGE:
                self.damage(sod)
            else:
                self.shrink()

    # money -----------------------------------------------------------------------------

    def _totals(self, sod: int) -> SalesTotals:
        utc_day = self.day + (sod - self.store.utc_offset_hours * 3600) // SECONDS_PER_DAY
        key = (self.index, self.day, utc_day)
        totals = self.result.totals.get(key)
        if totals is None:
            totals = self.result.totals[key] = SalesTotals()
        return totals

    def ticket(self, sod: int, first: int, end: int) -> None:
        """One customer's basket (pre-drawn lines ``first:end``), trimmed to what is on hand."""
        sim = self.sim
        rng = sim.rng
        promo_low, promo_high = self.plan.promo_depth
        promo_day = promo_high > 0
        stock = self.stock
        lines: list[SimEvent] = []
        for sku, want in zip(self.skus[first:end], self.units[first:end], strict=True):
            qty = want
            on_hand = stock[sku]
            oversell = False
            if on_hand <= 0:
                if sim.config.defects and sim.defect_rng.random() < OVERSELL_RATE:
                    oversell = True
                    self.result.oversells += 1
                else:
                    self.result.lost_lines += 1
                    continue
            elif qty > on_hand:
                qty = on_hand
            stock[sku] -= qty
            price = sim.prices[sku]
            gross = price * qty
            if promo_day and sim.is_promo[sku] and rng.random() < 0.85:
                discount = gross * rng.randint(promo_low, promo_high) // 100
            elif rng.random() < 0.07:
                discount = gross * rng.randint(5, 15) // 100
            else:
                discount = 0
            lines.append(
                SimEvent(
                    "sale", self.index, self.day, sod, sku, qty, price, discount, oversell=oversell
                )
            )
        if not lines:
            return
        order_id, terminal = self._new_order()
        totals = self._totals(sod)
        totals.orders += 1
        for number, event in enumerate(lines, start=1):
            event.order_id = order_id
            event.line = number
            event.terminal = terminal
            totals.units_sold += event.qty
            totals.gross_cents += event.price * event.qty
            totals.discount_cents += event.discount
            totals.sale_lines += 1
            self.events.append(event)
            sim.schedule_return(event)

    def _new_order(self) -> tuple[str, str | None]:
        sim = self.sim
        if self.online:
            sim.web_seq += 1
            return f"WEB-{sim.web_seq:07d}", None
        self.ticket_seq += 1
        stamp = self.stamp
        terminal = f"{self.store.store_id}-T{sim.rng.randrange(self.store.terminals) + 1}"
        return f"{self.store.store_id}-{stamp}-{self.ticket_seq:06d}", terminal

    def give_back(self, sod: int, pending: _Pending) -> None:
        sale = pending.sale
        qty = pending.qty
        discount = sale.discount * qty // sale.qty
        terminal = None
        if not self.online:
            terminal = f"{self.store.store_id}-T{self.sim.rng.randrange(self.store.terminals) + 1}"
        event = SimEvent(
            "return",
            self.index,
            self.day,
            sod,
            sale.sku,
            qty,
            sale.price,
            discount,
            order_id=sale.order_id,
            line=sale.line,
            terminal=terminal,
            ref_day=sale.day,
            ref_sod=sale.sod,
        )
        self.stock[sale.sku] += qty
        totals = self._totals(sod)
        totals.units_returned += qty
        totals.returns_cents += sale.price * qty - discount
        totals.return_lines += 1
        self.events.append(event)

    # stock -----------------------------------------------------------------------------

    def count(self, sod: int, *, full: bool) -> None:
        """Morning count: everything on day one, then a rotating seventh of the catalog."""
        stamp = self.plan.day.strftime("%Y%m%d")
        doc = f"CNT-{self.store.store_id}-{stamp}"
        slot = (self.day + self.index) % CYCLE_COUNT_DAYS
        for sku in self.sim.sku_range:
            if full or sku % CYCLE_COUNT_DAYS == slot:
                on_hand = max(0, self.stock[sku])
                self.events.append(
                    SimEvent(
                        "stock_count", self.index, self.day, sod, sku, 0, doc=doc, counted=on_hand
                    )
                )

    def receive(self, sod: int, arrival: Arrival) -> None:
        doc, lines = arrival.doc, arrival.lines
        pending = self.sim.pending[self.index]
        buyers = self.sim.buyers
        for sku, qty in lines:
            self.stock[sku] += qty
            pending[sku] = -1
            if buyers is not None:
                buyers.received(self.index, sku, qty)
            self.events.append(
                SimEvent("stock_receipt", self.index, self.day, sod, sku, qty, doc=doc)
            )

    def transfer(self, sod: int, outgoing: bool, leg: TransferLeg) -> None:
        sku, qty, other, doc = leg
        self.stock[sku] += -qty if outgoing else qty
        kind = "transfer_out" if outgoing else "transfer_in"
        self.events.append(
            SimEvent(kind, self.index, self.day, sod, sku, qty, doc=doc, counterpart=other)
        )

    def damage(self, sod: int) -> None:
        """A dropped box, a leaking bottle: written off with a document."""
        rng = self.sim.rng
        if rng.random() > 0.45 * self.store.size:
            return
        sku = rng.choices(self.sim.sku_range, cum_weights=self.sim.pop_cw, k=1)[0]
        if self.stock[sku] <= 0:
            return
        qty = min(self.stock[sku], rng.choice((1, 1, 1, 2, 3)))
        self.stock[sku] -= qty
        stamp = self.plan.day.strftime("%Y%m%d")
        doc = f"AJ-{self.store.store_id}-{stamp}"
        self.events.append(
            SimEvent("stock_adjustment", self.index, self.day, sod, sku, qty, doc=doc)
        )

    def shrink(self) -> None:
        """Unrecorded losses (theft, miscounts): physical stock drifts below the books."""
        rng = self.sim.rng
        for _ in range(int(self.store.size * 3 * rng.random())):
            sku = rng.choices(self.sim.sku_range, cum_weights=self.sim.pop_cw, k=1)[0]
            if self.stock[sku] > 0:
                self.stock[sku] -= 1
                self.result.shrinkage_units += 1
