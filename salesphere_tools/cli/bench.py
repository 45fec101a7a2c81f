"""``salesphere bench``: run the benchmarks of every layer and print one table."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from salesphere_tools.bench.figures import BenchRun, Figure, run_all, write

# Wide enough for the table even when written to a file or CI log (no terminal to size it).
console = Console(width=200) if not Console().is_terminal else Console()


def _fmt(value: float | None) -> str:
    if value is None:
        return "–"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:,.2f}"


def print_table(run: BenchRun) -> None:
    table = Table(title="SalesSphere benchmarks (this machine)")
    for col in ("area", "figure", "value", "baseline", "ratio", "target", "result", "note"):
        table.add_column(col, justify="right" if col in {"value", "baseline", "ratio"} else "left")
    for f in run.figures:
        target = (
            "–" if f.target is None else ("≥ " if f.higher_is_better else "≤ ") + _fmt(f.target)
        )
        result = (
            "–" if f.passed is None else ("[green]pass[/green]" if f.passed else "[red]miss[/red]")
        )
        table.add_row(
            f.area,
            f"{f.name} ({f.unit})",
            _fmt(f.value),
            f"{_fmt(f.baseline)} {f.baseline_name}".strip() if f.baseline else "–",
            f"{f.ratio:.1f}×" if f.ratio else "–",
            target,
            result,
            f.note,
        )
    console.print(table)
    for name, err in run.errors.items():
        console.print(f"[red]{name} failed:[/red]\n{err}")


def register(app: typer.Typer) -> None:
    @app.command()
    def bench(
        only: Annotated[
            list[str] | None, typer.Option(help="Run only these benchmarks (repeatable).")
        ] = None,
        scale: Annotated[
            float, typer.Option(help="Multiply data sizes (0.1 for a quick look).")
        ] = 1.0,
        out: Annotated[Path, typer.Option(help="Where to write the JSON results.")] = Path(
            "bench-results.json"
        ),
    ) -> None:
        """Measure every layer beside its naive baseline; print figure, baseline, ratio, target."""
        from salesphere_tools.bench.suite import suite

        benches = suite(scale)
        if only:
            unknown = set(only) - set(benches)
            if unknown:
                raise typer.BadParameter(
                    f"unknown benchmark(s) {sorted(unknown)}; choose from {sorted(benches)}"
                )
            benches = {k: v for k, v in benches.items() if k in only}
        with console.status("benchmarking") as status:
            run = run_all(benches, lambda name: status.update(f"running {name}"))
        print_table(run)
        console.print(f"Results written to {write(run, out)}")
        if run.errors:
            raise typer.Exit(1)


__all__ = ["Figure", "register"]
