"""One record in, one answer out: map, validate, check references, deduplicate.

Shared by the HTTP API and the file drops so both apply exactly the same rules. The
processor is pure: it returns rows to publish and rejects to quarantine, and leaves
the I/O to the caller. A record takes the fused kernel (:mod:`salesphere.ingest.fastpath.kernel`)
when its layout allows, else the mapper and :func:`salesphere.ingest.validate.validate`;
references are checked against :class:`salesphere.ingest.catalog.Reference`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from salesphere.ingest.catalog import Reference
from salesphere.ingest.fastpath import kernel
from salesphere.ingest.mapper import Mapper
from salesphere.ingest.readers import BAD_RECORD
from salesphere.ingest.results import ACCEPTED, DUPLICATE, REJECTED, RecordResult
from salesphere.ingest.validate import TIME_FORMAT, validate
from salesphere.validation import Reject


@dataclass
class RecordProcessor:
    """Turns source records into rows and answers; remembers ids seen in this batch/file."""

    mapper: Mapper
    reference: Reference
    received_at: datetime
    seen: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.received_text = self.received_at.strftime(TIME_FORMAT)
        # None when the layout has a shape the kernel does not handle: the full path
        self._kernel = kernel.compile_kernel(
            self.mapper, self.reference, self.received_at, self.received_text
        )

    def _single(
        self, index: int, draft: dict[str, Any]
    ) -> tuple[RecordResult, list[dict[str, Any]]] | None:
        """One draft, one event (the common case) without the per-item lists of
        :meth:`process`; same answers. ``None`` for the odd case it leaves to them."""
        row, problems = validate(draft, self.received_at, self.received_text)
        if row is not None:
            problems = self.reference.check(row)
        if problems:
            return RecordResult(index, REJECTED, rejects=problems), []
        if row is None:
            return None
        event_id = row["event_id"]
        if event_id in self.seen:
            return RecordResult(index, DUPLICATE, event_ids=[event_id]), []
        self.seen.add(event_id)
        return RecordResult(index, ACCEPTED, event_ids=[event_id]), [row]

    def process(
        self, index: int, record: Mapping[str, Any]
    ) -> tuple[RecordResult, list[dict[str, Any]]]:
        """The answer for one record and the rows to publish (empty unless accepted)."""
        fused = self._kernel
        if fused is not None and record.__class__ is dict:
            row = fused(record)  # type: ignore[arg-type]
            if row is not None:
                event_id = row["event_id"]
                if event_id in self.seen:
                    return RecordResult(index, DUPLICATE, event_ids=[event_id]), []
                self.seen.add(event_id)
                return RecordResult(index, ACCEPTED, event_ids=[event_id]), [row]
        if record.__class__ is not dict and not isinstance(record, Mapping):
            return RecordResult(
                index,
                REJECTED,
                rejects=[
                    Reject(
                        field="record",
                        value=repr(record)[:200],
                        rule="type",
                        message="each record must be a JSON object",
                    )
                ],
            ), []
        bad = record.get(BAD_RECORD)
        if bad is not None:
            rule, message, value = bad
            text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
            return RecordResult(
                index,
                REJECTED,
                rejects=[Reject(field="record", value=str(text)[:200], rule=rule, message=message)],
            ), []
        try:
            mapped = self.mapper.map(record)
        except Exception as exc:  # a shape no rule foresaw must not take the service down
            return RecordResult(
                index,
                REJECTED,
                rejects=[
                    Reject(
                        field="record",
                        value=None,
                        rule="unprocessable",
                        message=f"record could not be mapped: {type(exc).__name__}: {exc}",
                    )
                ],
            ), []
        if mapped.rejects:
            return RecordResult(index, REJECTED, rejects=mapped.rejects), []
        explode = self.mapper.mapping.explode
        if not explode and len(mapped.drafts) == 1:
            single = self._single(index, mapped.drafts[0])
            if single is not None:
                return single
        return self._several(index, mapped.drafts, explode)

    def _several(
        self, index: int, drafts: list[dict[str, Any]], explode: str | None
    ) -> tuple[RecordResult, list[dict[str, Any]]]:
        """A record that became several events (order items): all valid, or all rejected."""
        rows: list[dict[str, Any]] = []
        rejects: list[Reject] = []
        prefix_items = len(drafts) > 1 or bool(explode)
        for position, draft in enumerate(drafts):
            row, problems = validate(draft, self.received_at, self.received_text)
            if row is not None:
                problems = self.reference.check(row)
            if problems:
                if prefix_items:
                    problems = [
                        r.model_copy(update={"field": f"{explode}[{position}].{r.field}"})
                        for r in problems
                    ]
                rejects.extend(problems)
            elif row is not None:
                rows.append(row)
        if rejects:
            return RecordResult(index, REJECTED, rejects=rejects), []
        ids = [row["event_id"] for row in rows]
        if all(event_id in self.seen for event_id in ids):
            return RecordResult(index, DUPLICATE, event_ids=ids), []
        fresh = [row for row in rows if row["event_id"] not in self.seen]
        self.seen.update(ids)
        return RecordResult(index, ACCEPTED, event_ids=ids), fresh
