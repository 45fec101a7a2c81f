"""The local twin: real emulators plus the platform's services on 127.0.0.1.

``up`` first builds what the services need (each Cloud Function's bundle and its virtual
environment, reused when unchanged), then starts the three emulators side by side, waits
until each answers a real request, creates every topic, subscription, bucket and dataset,
then starts the services.
``down`` stops exactly the processes recorded in ``state.json``. ``status`` asks each
component whether it is healthy.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from salesphere.settings import Settings
from salesphere_tools.local import prereqs, processes
from salesphere_tools.local.components import Component, emulators, services
from salesphere_tools.local.processes import ProcessRecord, StateFile
from salesphere_tools.local.provision import provision_all
from salesphere_tools.warehouse import setup as warehouse_setup

Progress = Callable[[str], None]


@dataclass
class UpReport:
    started: dict[str, float] = field(default_factory=dict)  # name -> seconds to ready
    already_running: list[str] = field(default_factory=list)
    total_seconds: float = 0.0
    provisioned: Any = None


class Twin:
    """One twin, identified by its directory (``Settings.twin_dir``)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.state = StateFile(settings.twin_dir)
        self.log_dir = settings.twin_dir / "logs"

    # -- up ---------------------------------------------------------------------------------

    def up(
        self,
        *,
        speed_runtime: str = "function",
        with_services: bool = True,
        only: set[str] | None = None,
        progress: Progress | None = None,
    ) -> UpReport:
        """Start the twin. ``only`` limits which services start (emulators always do)."""
        say = progress or (lambda _msg: None)
        t0 = time.monotonic()
        report = UpReport()
        running = {n: r for n, r in self.state.load().items() if processes.is_running(r)}
        prereqs.check_java()
        svc = services(self.settings, speed_runtime=speed_runtime) if with_services else []
        if only is not None:
            svc = [c for c in svc if c.name in only]
        self.prepare(svc, progress=say)
        wanted = emulators(self.settings)
        for comp in wanted:
            if comp.name not in running and comp.port is not None:
                prereqs.ensure_port_free(self.settings.host, comp.port, comp.name)
        self._start_group([c for c in wanted], running, report, say)
        say("creating topics, subscriptions, buckets and datasets")
        report.provisioned = provision_all(self.settings, {c.name for c in svc})
        self._after_provision(say)
        for comp in svc:
            if comp.name not in running and comp.port is not None:
                prereqs.ensure_port_free(self.settings.host, comp.port, comp.name)
        self._start_group(svc, running, report, say)
        report.total_seconds = time.monotonic() - t0
        return report

    @staticmethod
    def prepare(components: list[Component], progress: Progress | None = None) -> None:
        """Build what each component needs before it starts (bundles; cached, so cheap).

        Builds run side by side: a cold install is mostly unpacking wheels, and the three
        bundles' environments then take about as long as the largest alone.
        """
        say = progress or (lambda _msg: None)
        work = [comp.prepare for comp in components if comp.prepare is not None]
        if not work:
            return
        with ThreadPoolExecutor(max_workers=len(work)) as pool:
            for _ in pool.map(lambda build: build(say), work):
                pass

    def _after_provision(self, say: Progress) -> None:
        """Warehouse tables and serving views (every service and test expects them)."""
        say("creating warehouse tables and serving views")
        warehouse_setup.ensure_warehouse(self.settings)

    def _start_group(
        self,
        group: list[Component],
        running: dict[str, ProcessRecord],
        report: UpReport,
        say: Progress,
    ) -> None:
        """Start a group concurrently, then wait for each to be ready."""
        started: list[tuple[Component, ProcessRecord]] = []
        for comp in group:
            if comp.name in running:
                report.already_running.append(comp.name)
                continue
            say(f"starting {comp.name}")
            rec = processes.spawn(
                comp.name,
                comp.argv,
                log_dir=self.log_dir,
                env=comp.env,
                endpoint=comp.endpoint,
                cwd=comp.cwd,
                inherit_env=comp.inherit_env,
            )
            running[comp.name] = rec
            started.append((comp, rec))
            self.state.save(running, settings=self.settings.to_environ())

        def wait(pair: tuple[Component, ProcessRecord]) -> tuple[str, float]:
            comp, rec = pair
            try:
                waited = processes.wait_until(
                    comp.ready, timeout=comp.start_timeout, what=comp.name, record=rec
                )
            except (RuntimeError, TimeoutError) as exc:
                fix = comp.explain(processes.read_log(rec.log)) if comp.explain else None
                if fix is None:
                    raise
                raise type(exc)(f"{comp.name} did not start: {fix}\n{exc}") from exc
            return comp.name, waited

        try:
            with ThreadPoolExecutor(max_workers=max(1, len(started))) as pool:
                for name, seconds in pool.map(wait, started):
                    report.started[name] = seconds
                    say(f"{name} ready in {seconds:.1f} s")
        except Exception:
            self.down()
            raise

    # -- down / status ----------------------------------------------------------------------

    def down(self) -> dict[str, bool]:
        """Stop every process this twin started (services first). Name -> stopped."""
        records = self.state.load()
        order = sorted(records.values(), key=lambda r: r.name in {"pubsub", "gcs", "bigquery"})
        result = {rec.name: processes.stop(rec) for rec in order}
        if all(result.values()):
            self.state.clear()
        return result

    def status(self) -> dict[str, dict[str, Any]]:
        """Each recorded component: pid, endpoint, process alive, answering, memory."""
        records = self.state.load()
        checks = {c.name: c for c in emulators(self.settings)}
        # Without the functions' Python the services cannot be described, but the
        # recorded processes can still be reported (as kind "unknown").
        with contextlib.suppress(prereqs.PrerequisiteError):
            checks.update({c.name: c for c in services(self.settings)})
            checks.update({c.name: c for c in services(self.settings, speed_runtime="beam")})
        out: dict[str, dict[str, Any]] = {}
        for name, rec in records.items():
            alive = processes.is_running(rec)
            healthy = False
            if alive and name in checks:
                try:
                    healthy = bool(checks[name].ready())
                except Exception:
                    healthy = False
            out[name] = {
                "kind": checks[name].kind if name in checks else "unknown",
                "pid": rec.pid,
                "endpoint": rec.endpoint,
                "running": alive,
                "healthy": healthy,
                "rss_mib": round(processes.rss_mib(rec.pid), 1) if alive else 0.0,
                "log": rec.log,
            }
        return out
