"""Fiscal documents for the generated data: what a Brazilian retailer's systems really send.

With ``GeneratorConfig.fiscal`` on, the smallest physical store (the *fiscal store*) sends:

* its tickets of the newest ``fiscal_days`` days as **NFC-e** (one authorised ``nfeProc``
  per ticket, ``fiscal/<date>/nfce-<n>.xml``) in place of its POS JSON and its end-of-day
  spreadsheet; two tickets of the newest day are **cancelled** (``110111``): one
  cancellation is sent before its ticket, one after it was counted. The books leave both
  tickets out (a cancelled ticket counts nowhere);
* every supplier delivery as the supplier's **NF-e** to the store (``fiscal/<date>/nfe-*.xml``)
  in place of the inventory feed's receipt rows: each item naming its purchase order
  (``xPed``/``nItemPed``) except one delivery in four, and SKUs bought in boxes of 12
  (``supplier_items.csv``) invoiced as ``CX`` plus loose units;
* one **transfer** with another store as an NF-e (CFOP 5152/6152: the sender's
  ``transfer_out``) and the receiver's confirmation of the operation (``210200``, its
  ``transfer_in`` at the simulation's arrival time) in place of the two inventory rows;
* the **purchase orders** behind those deliveries as an ERP export
  (``purchase_orders/pedidos.csv``, layout ``erp_pedidos``): one in three promised two days
  before the goods came (late on arrival), plus one order still open and late and one in
  transit, so the demo shows both.

Units, stores and times are those of the simulation, so the books (``manifest.json``)
hold for the fiscal store exactly as for the others.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from salesphere.taxid import with_cnpj_digits
from salesphere_tools.generate.catalog import ProductSpec, StoreSpec, supplier_cnpj
from salesphere_tools.generate.events import SECONDS_PER_DAY, SimEvent, cents, local_timestamp
from salesphere_tools.generate.manifest import FileEntry
from salesphere_tools.generate.nfe import Line, build, cancellation, confirmation, key_of
from salesphere_tools.generate.ordering import ERP_EXPORT, ErpOrderRow, write_order_rows
from salesphere_tools.generate.totals import SalesTotals

#: Every n-th SKU is bought in boxes of BOX units.
BOX_EVERY, BOX = 5, 12
#: Tickets (by order of the day) of the fiscal store's newest day that are cancelled; the
#: first one's cancellation is sent before the ticket itself.
CANCELLED_TICKETS = (4, 9)
#: One delivery in LATE_EVERY was promised LATE_DAYS before it came; one in UNNAMED_EVERY
#: does not name its order (linked oldest-first).
LATE_EVERY, LATE_DAYS, UNNAMED_EVERY = 3, 2, 4


def store_cnpj(index: int) -> str:
    return with_cnpj_digits(f"11222333{index + 1:04d}")


@dataclass(frozen=True)
class FiscalDay:
    """What one day's fiscal XML took from the simulation's events."""

    #: Indexes of the events sent as fiscal XML (the other writers skip them).
    sent: set[int]
    #: Indexes of the cancelled tickets' sales (out of the books: they count nowhere).
    cancelled: set[int]
    files: list[FileEntry]
    #: Whether the fiscal store's tickets went out as NFC-e (no spreadsheet that day).
    nfce_day: bool


@dataclass
class FiscalWriter:
    out: Path
    start: date
    days: int
    stores: list[StoreSpec]
    products: list[ProductSpec]
    fiscal_days: int = 1
    store: int = field(init=False)
    suppliers: list[str] = field(init=False)
    number: int = 0
    orders: list[tuple] = field(default_factory=list)
    transfer_done: bool = False
    cancelled: list[dict[str, object]] = field(default_factory=list)
    voided_lines: int = 0
    #: The export ``write_orders`` wrote, if the generator asked for it (it does not when
    #: the buyers of generate.ordering export every store's orders instead).
    orders_file: FileEntry | None = None

    def __post_init__(self) -> None:
        # The smallest physical store: one NFC-e per ticket is one request each.
        physical = [i for i, s in enumerate(self.stores) if not s.online]
        self.store = min(physical, key=lambda i: (self.stores[i].size, i))
        self.suppliers = sorted({p.supplier for p in self.products})

    # -- reference ---------------------------------------------------------------------------

    def write_reference(self, sent_at: str, day: str) -> list[FileEntry]:
        """stores.csv with each store's CNPJ, and supplier_items.csv (codes and boxes)."""
        folder = self.out / "reference"
        path = folder / "stores.csv"
        with path.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
        for index, row in enumerate(rows):
            row["cnpj"] = store_cnpj(index)
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=[*rows[0]], lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
        items = []
        for index, p in enumerate(self.products):
            cnpj = supplier_cnpj(p.supplier, self.suppliers)
            items.append((cnpj, f"F{p.sku}", p.sku, 1))
            if index % BOX_EVERY == 0:
                items.append((cnpj, f"F{p.sku}-CX", p.sku, BOX))
        with (folder / "supplier_items.csv").open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(("supplier_cnpj", "supplier_code", "sku", "units_per_supplier_unit"))
            writer.writerows(items)
        return [
            FileEntry("reference/supplier_items.csv", "reference", "csv", "utf-8", day, sent_at,
                      len(items), 0)
        ]  # fmt: skip

    # -- one simulated day ------------------------------------------------------------------

    def _entry(self, rel: str, data: bytes, source: str, day: int, sent: datetime, n: int):
        path = self.out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        day_text = (self.start + timedelta(days=day)).isoformat()
        return FileEntry(rel, source, "xml", "utf-8", day_text, _utc(sent), 1, n)

    def _instant(self, event: SimEvent) -> datetime:
        base = datetime(self.start.year, self.start.month, self.start.day, tzinfo=UTC)
        return base + timedelta(seconds=event.utc_seconds(self.stores))

    def _issued(self, event: SimEvent) -> str:
        store = self.stores[event.store]
        return local_timestamp(self.start, event.day, event.sod, store.offset_text)

    def take_day(
        self, day: int, events: list[SimEvent], totals: dict[tuple[int, int, int], SalesTotals]
    ) -> FiscalDay:
        """The day's receipts, transfer and (on NFC-e days) tickets as fiscal XML."""
        entries: list[FileEntry] = []
        removed: set[int] = set()
        self._cancelled_now: set[int] = set()
        entries += self._receipts(day, events, removed)
        if not self.transfer_done and day < self.days - 1:
            entries += self._transfer(day, events, removed)
        nfce_day = day >= self.days - self.fiscal_days
        if nfce_day:
            entries += self._tickets(day, events, removed, totals)
        return FiscalDay(removed, self._cancelled_now, entries, nfce_day)

    def _receipts(self, day: int, events: list[SimEvent], removed: set[int]) -> list[FileEntry]:
        docs: dict[str, list[int]] = {}
        for i, e in enumerate(events):
            if e.kind == "stock_receipt" and e.store == self.store:
                docs.setdefault(str(e.doc), []).append(i)
        entries = []
        for doc, indexes in docs.items():
            first = events[indexes[0]]
            supplier = supplier_cnpj(self.products[first.sku].supplier, self.suppliers)
            order = f"PC-{doc}"
            self.number += 1
            named = self.number % UNNAMED_EVERY != 0
            late = self.number % LATE_EVERY == 0
            lines: list[Line] = []
            for line_number, i in enumerate(indexes, start=1):
                e = events[i]
                product = self.products[e.sku]
                lead = max(1, product.lead_time_days)
                ordered = self._instant(e) - timedelta(days=lead)
                due = self.start + timedelta(days=e.day - (LATE_DAYS if late else 0))
                placed = ordered.astimezone(_zone(self.stores[self.store])).date()
                self.orders.append(
                    (order, line_number, supplier, e.sku, e.qty, ordered, max(due, placed))
                )
                ref = (order, str(line_number)) if named else (None, None)
                boxes, loose = divmod(e.qty, BOX) if e.sku % BOX_EVERY == 0 else (0, e.qty)
                cost = product.unit_cost_cents
                if boxes:
                    lines.append(
                        Line(f"F{product.sku}-CX", str(boxes), cents(cost * BOX), unit="CX",
                             order=ref[0], order_line=ref[1])
                    )  # fmt: skip
                if loose:
                    lines.append(
                        Line(f"F{product.sku}", str(loose), cents(cost), order=ref[0],
                             order_line=ref[1])
                    )  # fmt: skip
                removed.add(i)
            data = build(
                model="55",
                issuer=supplier,
                recipient=store_cnpj(self.store),
                lines=lines,
                number=self.number,
                series=2,
                issued=self._issued(first),
            )
            sent = self._instant(first) + timedelta(minutes=5)
            entries.append(
                self._entry(f"fiscal/{_day(self.start, day)}/nfe-{doc}.xml", data, "nfe", day,
                            sent, len(lines))
            )  # fmt: skip
        return entries

    def _transfer(self, day: int, events: list[SimEvent], removed: set[int]) -> list[FileEntry]:
        outs = {
            str(e.doc): i
            for i, e in enumerate(events)
            if e.kind == "transfer_out" and self.store in (e.store, e.counterpart)
        }
        for i, e in enumerate(events):
            if e.kind != "transfer_in" or str(e.doc) not in outs:
                continue
            out = events[outs[str(e.doc)]]
            if out.utc_seconds(self.stores) > e.utc_seconds(self.stores):
                continue
            same_state = self.stores[out.store].state == self.stores[e.store].state
            product = self.products[out.sku]
            self.number += 1
            data = build(
                model="55",
                issuer=store_cnpj(out.store),
                recipient=store_cnpj(e.store),
                lines=[
                    Line(
                        product.sku,
                        str(out.qty),
                        cents(product.unit_cost_cents),
                        cfop="5152" if same_state else "6152",
                    )
                ],
                number=self.number,
                series=3,
                issued=self._issued(out),
            )
            removed.update((outs[str(e.doc)], i))
            self.transfer_done = True
            return self._transfer_files(day, e, data)
        return []

    def _transfer_files(self, day: int, arrival: SimEvent, data: bytes) -> list[FileEntry]:
        """The transfer NF-e (the sender's transfer_out) and the receiver's confirmation of
        the operation (210200) when the goods arrive: its transfer_in, at the books' time."""
        folder = f"fiscal/{_day(self.start, day)}"
        sent = self._instant(arrival) + timedelta(minutes=5)
        confirmed = confirmation(
            key_of(data), author=store_cnpj(arrival.store), when=self._issued(arrival)
        )
        return [
            self._entry(f"{folder}/nfe-{arrival.doc}.xml", data, "nfe", day, sent, 1),
            self._entry(f"{folder}/confirmacao-{arrival.doc}.xml", confirmed, "nfe", day,
                        sent + timedelta(minutes=5), 1),
        ]  # fmt: skip

    def _tickets(
        self,
        day: int,
        events: list[SimEvent],
        removed: set[int],
        totals: dict[tuple[int, int, int], SalesTotals],
    ) -> list[FileEntry]:
        """The store's POS sales of the day as NFC-e, one per ticket; on the last day, the
        tickets in :data:`CANCELLED_TICKETS` are cancelled (one cancellation sent first)."""
        tickets: dict[str, list[int]] = {}
        for i, e in enumerate(events):
            if e.kind == "sale" and e.store == self.store:
                tickets.setdefault(str(e.order_id), []).append(i)
        entries = []
        last_day = day == self.days - 1
        for position, indexes in enumerate(tickets.values()):
            data, rel, sent = self._ticket(day, [events[i] for i in indexes])
            entries.append(self._entry(rel, data, "nfce", day, sent, len(indexes)))
            removed.update(indexes)
            if last_day and position in CANCELLED_TICKETS:
                before = position == CANCELLED_TICKETS[0]
                entries.append(self._cancel(day, data, rel, sent, events, indexes, before))
                for i in indexes:  # out of the books: it counts nowhere
                    _untotal(events[i], self.stores[self.store], totals)
        return entries

    def _ticket(self, day: int, sales: list[SimEvent]) -> tuple[bytes, str, datetime]:
        """One ticket's NFC-e: its bytes, its path and when the POS sends it."""
        lines = [
            Line(
                self.products[e.sku].sku,
                str(e.qty),
                cents(e.price),
                discount=cents(e.discount) if e.discount else None,
            )
            for e in sales
        ]
        self.number += 1
        data = build(
            lines=lines, issuer=store_cnpj(self.store), number=self.number,
            issued=self._issued(sales[0]),
        )  # fmt: skip
        sent = self._instant(sales[0]) + timedelta(seconds=30)
        return data, f"fiscal/{_day(self.start, day)}/nfce-{self.number:06d}.xml", sent

    def _cancel(
        self,
        day: int,
        data: bytes,
        rel: str,
        sent: datetime,
        events: list[SimEvent],
        indexes: list[int],
        before: bool,
    ) -> FileEntry:
        """The cancellation of one ticket, ten minutes after its sale; sent a second before
        the ticket itself when ``before`` (the order a platform must survive)."""
        first = events[indexes[0]]
        when = self._instant(first) + timedelta(minutes=10)
        cancel = cancellation(
            key_of(data),
            author=store_cnpj(self.store),
            when=when.astimezone(_zone(self.stores[self.store])).isoformat(timespec="seconds"),
        )
        self.cancelled.append(
            {
                "key": key_of(data),
                "lines": len(indexes),
                "units": sum(events[i].qty for i in indexes),
                "cancelled_first": before,
            }
        )
        if not before:
            self.voided_lines += len(indexes)
        self._cancelled_now.update(indexes)
        cancel_sent = sent - timedelta(seconds=1) if before else when
        name = rel.replace("nfce-", "cancelamento-")
        return self._entry(name, cancel, "nfe-event", day, cancel_sent, 0)

    # -- the orders behind the deliveries ----------------------------------------------------

    def write_orders(self) -> FileEntry:
        """The ERP's export: every delivered order, one open and late, one in transit."""
        last = self.days - 1
        end = datetime(self.start.year, self.start.month, self.start.day, 13, tzinfo=UTC)
        end += timedelta(days=last)
        popular = sorted(range(len(self.products)), key=lambda s: -self.products[s].popularity)
        for number, sku, qty, ordered_days_ago, due_in in (
            ("PC-ABERTO-1", popular[0], 24, 5, -2),  # late: promised 2 days ago, still open
            ("PC-ABERTO-2", popular[1], 48, 0, 3),  # in transit, due in 3 days
        ):
            product = self.products[sku]
            supplier = supplier_cnpj(product.supplier, self.suppliers)
            ordered = end - timedelta(days=ordered_days_ago)
            due = self.start + timedelta(days=last + due_in)
            self.orders.append((number, 1, supplier, sku, qty, ordered, due))
        store_id = self.stores[self.store].store_id
        written = write_order_rows(
            self.out,
            (
                ErpOrderRow(number, line, supplier, store_id, self.products[sku].sku, qty,
                            self.products[sku].unit_cost_cents, _utc(ordered), due)
                for number, line, supplier, sku, qty, ordered, due in self.orders
            ),
        )  # fmt: skip
        day_text = _day(self.start, max(0, last - 1))
        self.orders_file = FileEntry(
            ERP_EXPORT, "purchase_orders", "csv", "utf-8", day_text,
            _utc(end - timedelta(days=1)), written, 0,
        )  # fmt: skip
        return self.orders_file

    def summary(self) -> dict[str, object]:
        return {
            "store_id": self.stores[self.store].store_id,
            "nfce_days": self.fiscal_days,
            "cancelled_tickets": self.cancelled,
            **(
                {
                    "purchase_order_lines": self.orders_file.records,
                    "open_orders": ["PC-ABERTO-1 (late)", "PC-ABERTO-2 (in transit)"],
                }
                if self.orders_file is not None
                else {}
            ),
        }


def _untotal(
    event: SimEvent, store: StoreSpec, totals: dict[tuple[int, int, int], SalesTotals]
) -> None:
    utc_day = event.day + (event.sod - store.utc_offset_hours * 3600) // SECONDS_PER_DAY
    row = totals[(event.store, event.day, utc_day)]
    row.units_sold -= event.qty
    row.gross_cents -= event.price * event.qty
    row.discount_cents -= event.discount
    row.sale_lines -= 1
    if event.line == 1:
        row.orders -= 1


def _utc(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _day(start: date, day: int) -> str:
    return (start + timedelta(days=day)).isoformat()


def _zone(store: StoreSpec):
    from zoneinfo import ZoneInfo

    return ZoneInfo(store.timezone)
