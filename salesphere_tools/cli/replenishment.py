"""`salesphere replenishment`: what to order per store, for the purchasing team."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer

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
