"""The Beam transforms under TestStream: dedup, lateness, windows and the alert state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.testing import test_pipeline, test_stream
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.transforms.window import TimestampedValue

from salesphere.model import EventType
from salesphere.speed.transforms import SpeedLogic
from salesphere_tools.speed.samples import count, envelope, movement, sale

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
WRITTEN = datetime(2026, 11, 28, 12, 30, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def epoch(minutes: float) -> float:
    return at(minutes).timestamp()


def reorder_points(skus: list[str] | None) -> dict[str, int]:
    catalog = {"K1": 5}
    return catalog if skus is None else {s: catalog[s] for s in skus if s in catalog}


def fixed_clock() -> datetime:
    return WRITTEN


def streaming() -> test_pipeline.TestPipeline:
    options = PipelineOptions()
    options.view_as(StandardOptions).streaming = True
    return test_pipeline.TestPipeline(options=options)


def logic(
    stream: test_stream.TestStream, p: test_pipeline.TestPipeline
) -> dict[str, beam.PCollection]:
    return p | stream | SpeedLogic(reorder_points, clock=fixed_clock)


def msg(events, minutes: float) -> TimestampedValue:
    return TimestampedValue(envelope(events).to_json(), epoch(minutes))


def test_redelivered_message_is_written_once() -> None:
    first = sale("S1", "K1", 1, at(0), "o1")
    second = sale("S1", "K1", 2, at(0.5), "o2")
    stream = (
        test_stream.TestStream()
        .advance_watermark_to(epoch(0))
        .add_elements([msg([first, second], 0)])
        .add_elements([msg([first, second], 0.1)])  # Pub/Sub redelivery
        .add_elements([msg([second], 0.2)])  # POS retry of one line
        .advance_watermark_to_infinity()
    )
    with streaming() as p:
        out = logic(stream, p)
        ids = out["rows"] | beam.Map(lambda r: r["event_id"])
        assert_that(ids, equal_to([first.event_id, second.event_id]))


def test_alert_crosses_once_then_recovers_after_receipt() -> None:
    stream = (
        test_stream.TestStream()
        .add_elements([msg([count("S1", "K1", 6, at(0))], 0)])
        .add_elements([msg([sale("S1", "K1", 2, at(1), "a")], 1)])  # 4 -> alert
        .add_elements([msg([sale("S1", "K1", 1, at(2), "b")], 2)])  # 3 -> nothing
        .add_elements([msg([movement(EventType.STOCK_RECEIPT, "S1", "K1", 9, at(3), "R")], 3)])
        .add_elements([msg([sale("S1", "K1", 8, at(4), "c")], 4)])  # 12 -> 4: alert again
        .advance_watermark_to_infinity()
    )
    with streaming() as p:
        alerts = logic(stream, p)["alerts"] | beam.Map(lambda a: (a["kind"], a["on_hand"]))
        assert_that(alerts, equal_to([("below_reorder_point", 4)] * 2))


def test_out_of_order_count_does_not_undo_a_later_sale() -> None:
    late_sale = sale("S1", "K1", 3, at(12), "a")
    stream = (
        test_stream.TestStream()
        .add_elements([msg([count("S1", "K1", 7, at(10))], 0)])
        .add_elements([msg([late_sale], 1)])  # 4 -> alert
        .add_elements([msg([count("S1", "K1", 50, at(5))], 2)])  # older count: ignored
        .add_elements([msg([sale("S1", "K1", 4, at(13), "b")], 3)])  # 0 -> out of stock
        .advance_watermark_to_infinity()
    )
    with streaming() as p:
        alerts = logic(stream, p)["alerts"] | beam.Map(lambda a: (a["kind"], a["on_hand"]))
        assert_that(alerts, equal_to([("below_reorder_point", 4), ("out_of_stock", 0)]))


def test_late_events_are_counted_within_lateness_and_always_written() -> None:
    on_time = sale("S1", "K1", 1, at(0.2), "a")
    late = sale("S1", "K1", 1, at(0.5), "b")  # same minute, after the window fired
    too_late = sale("S1", "K1", 1, at(0.7), "c")  # beyond the allowed lateness
    stream = (
        test_stream.TestStream()
        .advance_watermark_to(epoch(0))
        .add_elements([msg([on_time], 0.2)])
        .advance_watermark_to(epoch(2))  # window [0, 1) fires on time with 1 event
        .add_elements([msg([late], 2)])  # late firing: 2 events
        .advance_watermark_to(epoch(2 + 61))  # lateness (60 min here + window) has passed
        .add_elements([msg([too_late], 63)])
        .advance_watermark_to_infinity()
    )
    with streaming() as p:
        out = p | stream | SpeedLogic(reorder_points, clock=fixed_clock, lateness_seconds=3600)
        counts = out["counts"] | beam.Map(lambda c: (c["window_start"][11:16], c["events"]))
        assert_that(counts, equal_to([("12:00", 1), ("12:00", 2)]), label="counts")
        ids = out["rows"] | beam.Map(lambda r: r["event_id"])
        assert_that(
            ids, equal_to([on_time.event_id, late.event_id, too_late.event_id]), label="rows"
        )


def test_poison_becomes_dead_letters_and_good_events_still_flow() -> None:
    good = sale("S1", "K1", 1, at(0), "a")
    body = envelope([good]).to_json().replace(b'"events":[', b'"events":[{"sku":"x"},')
    stream = (
        test_stream.TestStream()
        .add_elements([TimestampedValue(b"{not json", epoch(0))])
        .add_elements([TimestampedValue(body, epoch(0))])
        .advance_watermark_to_infinity()
    )
    with streaming() as p:
        out = logic(stream, p)
        errors = out["dead_letters"] | beam.Map(lambda d: d["error"].split(":")[0])
        assert_that(
            errors,
            equal_to(["envelope is not valid JSON", "event failed the canonical model"]),
            label="dead",
        )
        ids = out["rows"] | beam.Map(lambda r: r["event_id"])
        assert_that(ids, equal_to([good.event_id]), label="rows")
