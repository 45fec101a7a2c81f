"""`salesphere replenishment`: what to order per store, for the purchasing team."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from salesphere_tools.cli.output import write_json

replenishment_app = typer.Typer(
    help="Purchase suggestions from serving.replenishment (forecast, safety stock, cases)."
)


@replenishment_app.command("export")
def export(
    store: Annotated[str, typer.Option("--store", help="Store id, e.g. SP01.")],
    out: Annotated[
        Path | None,
        typer.Option(help="CSV to write (default out/sugestao_compra_<store>_<date>.csv)."),
    ] = None,
    encoding: Annotated[
        str,
        typer.Option(help="utf-8-bom (Excel, LibreOffice) or latin-1 (older ERP imports)."),
    ] = "utf-8-bom",
    everything: Annotated[
        bool, typer.Option("--all", help="Every SKU of the store, not only those to order.")
    ] = False,
) -> None:
    """Write the store's purchase suggestion as a pt-BR CSV (; separated, decimal comma)."""
    from salesphere.settings import Settings
    from salesphere_tools.purchasing import ENCODINGS, ExportError
    from salesphere_tools.purchasing import export as write

    if encoding not in ENCODINGS:
        raise typer.BadParameter(f"--encoding must be one of {', '.join(ENCODINGS)}")
    path = out or Path("out") / f"sugestao_compra_{store}_{date.today():%Y%m%d}.csv"
    try:
        result = write(Settings.from_env(), store, path, encoding=encoding, everything=everything)
    except ExportError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    except Exception as exc:  # connection refused, missing view and the like
        typer.echo(
            f"cannot read serving.replenishment ({exc}); is the twin up (`salesphere local up`) "
            "and the warehouse set up?",
            err=True,
        )
        raise typer.Exit(1) from None
    typer.echo(
        f"{result.path}: {result.rows} SKU(s), {result.to_order} to order "
        f"({encoding}, ';' separated, decimal comma)"
    )
    if result.to_order == 0:
        typer.echo(f"nothing to order for {store} today; --all lists every SKU")
    if result.stale_forecast:
        typer.echo(f"warning: {result.stale_forecast}", err=True)
    if result.replaced:
        typer.echo(
            f"{result.replaced} character(s) Latin-1 cannot hold were written as '?'; "
            "use --encoding utf-8-bom to keep them",
            err=True,
        )


@replenishment_app.command("transfers")
def transfers(
    store: Annotated[
        str | None, typer.Option("--store", help="Store id, e.g. SP01: what it sends and gets.")
    ] = None,
    everything: Annotated[
        bool, typer.Option("--all", help="Every suggested transfer between all stores.")
    ] = False,
    out: Annotated[
        Path | None,
        typer.Option(help="CSV to write (default out/sugestao_transferencia_<store>_<date>.csv)."),
    ] = None,
    encoding: Annotated[
        str,
        typer.Option(help="utf-8-bom (Excel, LibreOffice) or latin-1 (older ERP imports)."),
    ] = "utf-8-bom",
) -> None:
    """Write the suggested transfers between stores as a pt-BR CSV (; separated)."""
    from salesphere.settings import Settings
    from salesphere_tools.purchasing import ENCODINGS, ExportError
    from salesphere_tools.transfers import export as write

    if (store is None) == (not everything):
        raise typer.BadParameter("pass --store <id> or --all (one of them)")
    if encoding not in ENCODINGS:
        raise typer.BadParameter(f"--encoding must be one of {', '.join(ENCODINGS)}")
    label = store or "todas"
    path = out or Path("out") / f"sugestao_transferencia_{label}_{date.today():%Y%m%d}.csv"
    try:
        result = write(Settings.from_env(), store, path, encoding=encoding)
    except ExportError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    except Exception as exc:  # connection refused, missing view and the like
        typer.echo(
            f"cannot read serving.transfer_suggestions ({exc}); is the twin up "
            "(`salesphere local up`) and the warehouse set up?",
            err=True,
        )
        raise typer.Exit(1) from None
    typer.echo(
        f"{result.path}: {result.rows} transfer(s), {result.units} unit(s) "
        f"({encoding}, ';' separated, decimal comma)"
    )
    if result.rows == 0:
        typer.echo(
            "no transfer suggested today: no store holds more than it needs of a SKU another lacks"
        )
    if result.stale_forecast:
        typer.echo(f"warning: {result.stale_forecast}", err=True)
    if result.replaced:
        typer.echo(
            f"{result.replaced} character(s) Latin-1 cannot hold were written as '?'; "
            "use --encoding utf-8-bom to keep them",
            err=True,
        )


def print_replay(result, console=None) -> None:
    """One rich table: a row per target service level."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console(width=120)
    table = Table(
        title=f"{result.dataset}: policy replayed over the last {result.days} days "
        f"(lost sales, orders in transit)"
    )
    for col in (
        "target",
        "series",
        "unit fill",
        "series meeting target",
        "days on hand",
        "orders / year",
        "stock-out days / year",
    ):
        table.add_column(col, justify="right")
    for o in result.outcomes:
        table.add_row(
            f"{o.target:.3g}",
            f"{o.series:,}",
            f"{o.fill:.4f}",
            f"{o.meeting:.1%}",
            f"{o.days_on_hand:.1f}",
            f"{o.orders_per_year:.1f}",
            f"{o.stockout_days_per_year:.1f}",
        )
    console.print(table)


@replenishment_app.command("simulate")
def simulate(
    dataset: Annotated[
        str,
        typer.Option(
            help="m5 (real sales; weekly review, 3-day lead time, pack 1) or generated "
            "(two years of generated history with the catalogue's terms)."
        ),
    ] = "m5",
    series: Annotated[
        int | None, typer.Option(help="Replay a random sample of this many series (default all).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the sample.")] = 0,
    targets: Annotated[
        str, typer.Option(help="Service levels to replay, comma separated.")
    ] = "0.9,0.95,0.98",
    days: Annotated[int, typer.Option(help="Days replayed, up to the data's last day.")] = 364,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Also write the results to this JSON file.")
    ] = None,
) -> None:
    """Replay the purchase policy day by day against actual demand, per target service level."""

    from salesphere_tools import replay
    from salesphere_tools.forecast import m5

    if dataset not in ("m5", "generated"):
        raise typer.BadParameter("--dataset must be m5 or generated")
    try:
        levels = [float(v) for v in targets.split(",") if v.strip()]
    except ValueError:
        raise typer.BadParameter("--targets takes numbers, e.g. 0.9,0.95,0.98") from None
    try:
        data = replay.m5_data() if dataset == "m5" else replay.generated_data()
    except m5.DatasetMissing as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    try:
        result = replay.simulate(
            data,
            series=series,
            seed=seed,
            targets=levels,
            days=days,
            progress=lambda msg: typer.echo(msg, err=True),
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    print_replay(result)
    if json_path:
        write_json(json_path, result.to_dict())


@replenishment_app.command("place")
def place(
    store: Annotated[str, typer.Option("--store", help="Store id, e.g. SP01.")],
    from_export: Annotated[
        Path | None,
        typer.Option(
            "--from-export",
            help="The suggestion CSV `export` wrote, as the buyer accepted (or edited) it; "
            "default: today's suggestion as it stands.",
        ),
    ] = None,
    supplier_cnpj: Annotated[
        str | None,
        typer.Option(
            "--supplier-cnpj",
            help="Supplier of every line (default: each SKU's one supplier in "
            "reference.supplier_items).",
        ),
    ] = None,
    out: Annotated[Path, typer.Option(help="Folder for a copy of the orders file.")] = Path("out"),
) -> None:
    """Record the store's accepted suggestion as placed purchase orders (no ERP needed).

    Writes an orders file in the erp_pedidos layout to purchase_orders/ in the landing
    bucket; once ingested, serving.replenishment counts its lines as on order.
    """
    from salesphere.settings import Settings
    from salesphere_tools.purchasing import ExportError
    from salesphere_tools.purchasing import place as record

    try:
        placed = record(
            Settings.from_env(), store, out, from_export=from_export, supplier_cnpj=supplier_cnpj
        )
    except ExportError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    except Exception as exc:  # connection refused, missing view and the like
        typer.echo(
            f"cannot place the orders ({exc}); is the twin up (`salesphere local up`) and the "
            "warehouse set up?",
            err=True,
        )
        raise typer.Exit(1) from None
    typer.echo(
        f"order {placed.order_number}: {placed.lines} line(s), {placed.units} units; "
        f"{placed.path} uploaded as {placed.object_name}"
    )


def register(app: typer.Typer) -> None:
    """Attach this module's commands to the main app."""
    app.add_typer(replenishment_app, name="replenishment")
