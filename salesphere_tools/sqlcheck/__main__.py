"""``python -m salesphere_tools.sqlcheck``: analyse every statement, print a line each, exit 1 on a rejection."""

from __future__ import annotations

from salesphere_tools.sqlcheck.check import run


def main() -> int:
    summary = run()
    for result in summary.results:
        mark = "ok  " if result.ok else "FAIL"
        print(f"{mark} {result.name}  [{result.origin}]")
        if not result.ok:
            print("     " + result.error.replace("\n", "\n     "))
    analysed = sum(r.statements for r in summary.results)
    print(
        f"{len(summary.results)} texts ({analysed} statements), {len(summary.rejected)} rejected, "
        f"{summary.seconds:.1f} s (analyzer start {summary.engine_seconds:.1f} s, "
        f"{'cached' if summary.engine_cached else 'compiled'})"
    )
    return 1 if summary.rejected else 0


if __name__ == "__main__":
    raise SystemExit(main())
