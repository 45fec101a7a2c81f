"""Runtime settings: the one switch point between the local twin and Google Cloud.

Services never read environment variables themselves and never branch on "am I
local?". They receive a :class:`Settings` and ask ``salesphere.gcp.clients`` for
clients; the settings decide whether those clients talk to emulators or to Google.

Local defaults match what ``salesphere local up`` starts, so a service run next to the
twin needs no configuration at all.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from salesphere.names import BucketNames, bucket_names

LOCAL_PROJECT = "salesphere"
LOCAL_ENV = "local"
#: The twin's HMAC key: valid only when ``env == "local"``, never anywhere else.
LOCAL_HMAC_KEYS: tuple[tuple[str, str], ...] = (("pos-local", "local-dev-secret-change-me"),)
#: Shortest HMAC secret accepted outside the twin (32 bytes of entropy as 64 hex digits is
#: what docs/infra.md generates; 32 characters is the floor).
MIN_HMAC_SECRET_CHARS = 32
#: Values of ``Settings.forecast_runtime`` (``SALESPHERE_FORECAST_RUNTIME``).
FORECAST_RUNTIMES = ("process", "beam")


class SettingsError(ValueError):
    """The environment cannot be used as given; the message says what to set."""


class MissingHmacKeys(SettingsError):
    """Ingest outside the twin without HMAC keys: it refuses to start (fails closed)."""


@dataclass(frozen=True)
class Ports:
    """Loopback ports of the twin's components; each configurable by env var."""

    pubsub: int = 8085
    gcs: int = 4443
    bigquery: int = 9051
    bigquery_grpc: int = 9061
    ingest_http: int = 8081
    ingest_files: int = 8082
    speed: int = 8083
    batch: int = 8084


@dataclass(frozen=True)
class Settings:
    """Where things are and what they are called, for one environment."""

    project: str = LOCAL_PROJECT
    env: str = LOCAL_ENV
    region: str = "us-central1"
    host: str = "127.0.0.1"
    ports: Ports = field(default_factory=Ports)
    twin_dir: Path = Path(".twin")
    #: Ingest limits: answer 413 / 400 beyond these.
    max_body_bytes: int = 5 * 1024 * 1024
    max_records_per_batch: int = 5_000
    #: JSON nesting accepted anywhere (HTTP bodies, JSON files, NDJSON lines): a batch
    #: needs 4 levels; deeper input is refused before any parser recurses (400 / reject).
    max_json_depth: int = 32
    #: JSON array files are parsed whole, so they are bounded; bigger exports are NDJSON.
    max_json_file_bytes: int = 64 * 1024 * 1024
    #: One NDJSON line (one record) at most; a longer line is a reject, the rest lands.
    max_ndjson_line_bytes: int = 1024 * 1024
    #: Events per Pub/Sub envelope: Pub/Sub bills each message at >= 1 KB, so pack many.
    envelope_max_events: int = 500
    #: Ingest load shedding: POSTs processed at once per function instance; beyond it the
    #: function answers 503 + Retry-After at once and publishes nothing (a safe retry).
    #: Keep it below the server's worker threads (functions-framework: 4 per CPU).
    max_inflight_requests: int = 4
    #: Speed function: seconds between folding in rows other instances wrote (see
    #: salesphere.speed.memory); keep it well under BigQuery's ~60 s insertId window.
    speed_sync_seconds: float = 30.0
    #: ...but only this long after the process loaded its memory: one instance per stack,
    #: so another writer exists only while a rollout overlaps a fresh instance with the
    #: old one. Each sync is a query billed at 10 MB; syncing all day would use half the
    #: free query tier. Raise it (e.g. to 1e9) if you run several instances for good.
    speed_sync_window_seconds: float = 300.0
    #: Batch lock lease: a run renews it every quarter of this; a lock not renewed for this
    #: long belongs to a crashed run and the next run takes it over (salesphere.batch.lock).
    batch_lock_lease_seconds: float = 120.0
    #: Demand forecast (salesphere.forecast), run by every batch run after its commit.
    #: ``SALESPHERE_FORECAST=off`` turns it off (the forecast tables keep what they had).
    forecast_enabled: bool = True
    #: Days forecast ahead (also each backtest fold's horizon): eight weeks covers the
    #: longest supplier lead time (14 days) plus a month's review period with room to spare.
    forecast_horizon_days: int = 56
    #: The full backtest (every candidate re-scored, model chosen per series) runs when the
    #: last one is at least this old; other runs only refit the chosen model on new actuals.
    forecast_backtest_every_days: int = 7
    #: Rolling-origin folds per backtest (28 days apart).
    forecast_backtest_folds: int = 2
    #: History read per run: two years hold every yearly date twice.
    forecast_history_days: int = 730
    #: Worker processes for the models (the batch function has one vCPU).
    forecast_workers: int = 1
    #: Where the models run: ``process`` (``forecast_all`` in the batch function, with
    #: ``forecast_workers`` processes) or ``beam`` (salesphere.batch.forecast_beam on
    #: DirectRunner with ``forecast_workers`` worker processes). A stack whose batch
    #: runtime is ``dataflow`` always forecasts with Beam, on Dataflow.
    forecast_runtime: str = "process"
    #: How long the archive may lag ingest; a batch run's cutoff is its start minus this:
    #: the run drains the archive subscription when it starts, and an envelope published
    #: just before may reach it only after the drain's last pull; the margin keeps those
    #: with the speed layer until the next run. Tests and the demo, which publish nothing while
    #: a run drains, pass 0.
    batch_archive_lag_seconds: float = 660.0
    #: HMAC keys (id, secret) for POS systems that cannot do OIDC. In cloud they come only
    #: from Secret Manager (``SALESPHERE_HMAC_KEYS``, mounted by infra/ingest.py); the
    #: twin's :data:`LOCAL_HMAC_KEYS` are dropped for any other env (see __post_init__).
    hmac_keys: tuple[tuple[str, str], ...] = LOCAL_HMAC_KEYS
    #: Google identities (service-account e-mails) whose ID tokens ingest accepts. Cloud
    #: Run lets anyone reach ingest-http (HMAC senders have no Google identity), so the
    #: code, not the platform, decides which OIDC callers may send (docs/infra.md).
    oidc_callers: tuple[str, ...] = ()
    #: Fiscal XML (salesphere.fiscal): accept documents without SEFAZ's authorisation or
    #: from homologation (tpAmb 2), marked ``nfe-unauthorised``. ``None``: only the twin
    #: and dev do (``SALESPHERE_FISCAL_ACCEPT_UNAUTHORISED`` on/off overrides).
    fiscal_accept_unauthorised: bool | None = None
    #: How long an ingest process keeps reference data (the SKU catalogue; for fiscal
    #: documents stores by CNPJ, GTINs, suppliers' codes) before reading it again: a row
    #: added to reference is used within this time. The test twin sets 2 s.
    reference_ttl_seconds: float = 300.0
    #: The audiences an ID token for ingest-http may carry: its own URLs
    #: (:func:`salesphere.endpoints.audiences`, passed by the program). Empty: no token is
    #: accepted (fail closed).
    oidc_audiences: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.forecast_runtime not in FORECAST_RUNTIMES:
            raise SettingsError(
                f"forecast_runtime must be one of {', '.join(FORECAST_RUNTIMES)}, "
                f"not {self.forecast_runtime!r}"
            )
        if self.env != LOCAL_ENV and self.hmac_keys:
            local = dict(LOCAL_HMAC_KEYS)
            kept = tuple((k, v) for k, v in self.hmac_keys if local.get(k) != v)
            object.__setattr__(self, "hmac_keys", kept)

    def require_hmac_keys(self) -> None:
        """Refuse to serve ingest outside the twin without real keys (fail closed)."""
        if self.local:
            return
        if not self.hmac_keys:
            raise MissingHmacKeys(
                f"env {self.env!r} has no HMAC keys: SALESPHERE_HMAC_KEYS is empty. In cloud "
                "it is mounted from the Secret Manager secret ingest-hmac-keys; add a version "
                "('<key id>=<secret>,...', see docs/infra.md, 'HMAC keys') and redeploy. "
                "There is no default key outside the local twin."
            )
        short = [k for k, v in self.hmac_keys if len(v) < MIN_HMAC_SECRET_CHARS]
        if short:
            raise MissingHmacKeys(
                f"HMAC keys {short} are shorter than {MIN_HMAC_SECRET_CHARS} characters; "
                "generate each with `openssl rand -hex 32` and add a new secret version"
            )

    @property
    def fiscal_accepts_unauthorised(self) -> bool:
        if self.fiscal_accept_unauthorised is not None:
            return self.fiscal_accept_unauthorised
        return self.env in (LOCAL_ENV, "dev")

    @property
    def local(self) -> bool:
        return self.env == LOCAL_ENV

    @property
    def buckets(self) -> BucketNames:
        return bucket_names(self.project, self.env)

    @property
    def pubsub_endpoint(self) -> str:
        return f"{self.host}:{self.ports.pubsub}"

    @property
    def gcs_endpoint(self) -> str:
        return f"http://{self.host}:{self.ports.gcs}"

    @property
    def bigquery_endpoint(self) -> str:
        return f"http://{self.host}:{self.ports.bigquery}"

    @property
    def ingest_url(self) -> str:
        return f"http://{self.host}:{self.ports.ingest_http}"

    def with_twin_dir(self, path: Path) -> Settings:
        return replace(self, twin_dir=path)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        """Read ``SALESPHERE_*`` variables once (:data:`ENVIRONMENT`); unset ones keep the
        local defaults."""
        env = os.environ if environ is None else environ
        base = cls()
        values: dict[str, Any] = {
            var.field: var.read(env, getattr(base, var.field)) for var in ENVIRONMENT
        }
        ports = Ports(
            **{
                name: int(env.get(f"{PORT_PREFIX}{name.upper()}", getattr(base.ports, name)))
                for name in Ports.__dataclass_fields__
            }
        )
        keys = parse_hmac_keys(env.get(HMAC_KEYS_VAR, ""))
        hmac_keys = keys or (LOCAL_HMAC_KEYS if values["env"] == LOCAL_ENV else ())
        return cls(**values, ports=ports, hmac_keys=hmac_keys)

    def to_environ(self) -> dict[str, str]:
        """The variables that make :meth:`from_env` in a child process rebuild these settings."""
        out = {
            var.name: var.show(getattr(self, var.field))
            for var in ENVIRONMENT
            if getattr(self, var.field) is not None
        }
        out[HMAC_KEYS_VAR] = ",".join(f"{k}={v}" for k, v in self.hmac_keys)
        for name in Ports.__dataclass_fields__:
            out[f"{PORT_PREFIX}{name.upper()}"] = str(getattr(self.ports, name))
        return {**out, **self.emulator_environ()}

    def emulator_environ(self) -> dict[str, str]:
        """Environment variables that point Google's client libraries at the twin."""
        if not self.local:
            return {}
        return {
            "PUBSUB_EMULATOR_HOST": self.pubsub_endpoint,
            "STORAGE_EMULATOR_HOST": self.gcs_endpoint,
            "BIGQUERY_EMULATOR_HOST": self.bigquery_endpoint,
            "GOOGLE_CLOUD_PROJECT": self.project,
        }

    def export_emulator_environ(self, *names: str) -> None:
        """Put this twin's emulator variables (all, or only ``names``) in the process environment.

        Google's Pub/Sub client and Beam's BigQuery IO read the emulator's address from the
        environment, not from arguments. This is the one place the runtime library writes
        the environment, and outside the twin it writes nothing.
        """
        wanted = self.emulator_environ()
        os.environ.update({k: v for k, v in wanted.items() if not names or k in names})


@dataclass(frozen=True)
class EnvVar:
    """One setting's environment variable: its name, how its text is read and written.

    ``parse(text, default, name)`` reads a set variable (empty text keeps the default);
    ``show(value)`` writes it back so a child process rebuilds the same value.
    """

    field: str
    name: str
    parse: Callable[[str, Any, str], Any] = lambda text, default, name: text
    show: Callable[[Any], str] = str

    #: Text settings keep an explicitly empty value; for the others blank means unset.
    blank_is_unset: bool = True

    def read(self, env: Mapping[str, str], default: Any) -> Any:
        text = env.get(self.name)
        if text is None or (self.blank_is_unset and not text.strip()):
            return default
        return self.parse(text, default, self.name)


def _keep_text(text: str, default: Any, name: str) -> str:
    return text


def _number(kind: type) -> Callable[[str, Any, str], Any]:
    def parse(text: str, default: Any, name: str) -> Any:
        try:
            return kind(text.strip())
        except ValueError:
            raise SettingsError(f"{name} must be a number, not {text!r}") from None

    return parse


def _names(prefix: str = "") -> Callable[[str, Any, str], tuple[str, ...]]:
    """Comma-separated names, each stripped (and without ``prefix``, e.g. ``serviceAccount:``)."""

    def parse(text: str, default: Any, name: str) -> tuple[str, ...]:
        return tuple(p.strip().removeprefix(prefix) for p in text.split(",") if p.strip())

    return parse


def _switch(text: str, default: bool | None, name: str) -> bool:
    return parse_switch(text, bool(default), name)


def _on_off(value: bool) -> str:
    return "on" if value else "off"


def _runtime(text: str, default: str, name: str) -> str:
    return parse_choice(text, default, FORECAST_RUNTIMES, name)


#: Where ports come from: ``SALESPHERE_PORT_<NAME>`` for each field of :class:`Ports`.
PORT_PREFIX = "SALESPHERE_PORT_"
#: HMAC keys ``id=secret,...``; read apart because the twin's default depends on ``env``.
HMAC_KEYS_VAR = "SALESPHERE_HMAC_KEYS"
#: Every other setting a process can take from its environment: the one declaration both
#: :meth:`Settings.from_env` and :meth:`Settings.to_environ` read.
ENVIRONMENT: tuple[EnvVar, ...] = (
    EnvVar("project", "SALESPHERE_PROJECT", _keep_text, blank_is_unset=False),
    EnvVar("env", "SALESPHERE_ENV", _keep_text, blank_is_unset=False),
    EnvVar("region", "SALESPHERE_REGION", _keep_text, blank_is_unset=False),
    EnvVar("host", "SALESPHERE_HOST", _keep_text, blank_is_unset=False),
    EnvVar("twin_dir", "SALESPHERE_TWIN_DIR", lambda t, d, n: Path(t), lambda p: str(p.resolve())),
    EnvVar("oidc_callers", "SALESPHERE_INGEST_OIDC_CALLERS", _names("serviceAccount:"), ",".join),
    EnvVar("oidc_audiences", "SALESPHERE_INGEST_OIDC_AUDIENCES", _names(), ",".join),
    EnvVar("max_inflight_requests", "SALESPHERE_MAX_INFLIGHT_REQUESTS", _number(int)),
    EnvVar("speed_sync_seconds", "SALESPHERE_SPEED_SYNC_SECONDS", _number(float)),
    EnvVar("speed_sync_window_seconds", "SALESPHERE_SPEED_SYNC_WINDOW_SECONDS", _number(float)),
    EnvVar("batch_lock_lease_seconds", "SALESPHERE_BATCH_LOCK_LEASE_SECONDS", _number(float)),
    EnvVar("forecast_enabled", "SALESPHERE_FORECAST", _switch, _on_off),
    EnvVar("forecast_horizon_days", "SALESPHERE_FORECAST_HORIZON_DAYS", _number(int)),
    EnvVar("forecast_backtest_every_days", "SALESPHERE_FORECAST_BACKTEST_EVERY_DAYS", _number(int)),
    EnvVar("forecast_backtest_folds", "SALESPHERE_FORECAST_BACKTEST_FOLDS", _number(int)),
    EnvVar("forecast_history_days", "SALESPHERE_FORECAST_HISTORY_DAYS", _number(int)),
    EnvVar("forecast_workers", "SALESPHERE_FORECAST_WORKERS", _number(int)),
    EnvVar("forecast_runtime", "SALESPHERE_FORECAST_RUNTIME", _runtime),
    EnvVar("fiscal_accept_unauthorised", "SALESPHERE_FISCAL_ACCEPT_UNAUTHORISED", _switch, _on_off),
    EnvVar("reference_ttl_seconds", "SALESPHERE_REFERENCE_TTL_SECONDS", _number(float)),
)


def parse_switch(text: str, default: bool, name: str) -> bool:
    """``on``/``off`` (also true/false, 1/0, yes/no); empty keeps ``default``."""
    value = text.strip().lower()
    if not value:
        return default
    if value in {"on", "true", "1", "yes"}:
        return True
    if value in {"off", "false", "0", "no"}:
        return False
    raise SettingsError(f"{name} must be on or off, not {text!r}")


def parse_choice(text: str, default: str, choices: tuple[str, ...], name: str) -> str:
    """One of ``choices`` (case-insensitive); empty keeps ``default``."""
    value = text.strip().lower()
    if not value:
        return default
    if value not in choices:
        raise SettingsError(f"{name} must be one of {', '.join(choices)}, not {text!r}")
    return value


def parse_hmac_keys(text: str) -> tuple[tuple[str, str], ...]:
    """``id=secret,id2=secret2`` (as stored in Secret Manager) -> pairs; refuses junk.

    A malformed entry is an error, not skipped: a key silently dropped would turn away
    a POS with no hint why. The message never echoes a secret.
    """
    pairs = []
    for index, item in enumerate(p.strip() for p in text.strip().split(",")):
        if not item:
            continue
        key_id, sep, secret = item.partition("=")
        if not sep or not key_id.strip() or not secret.strip():
            raise SettingsError(
                f"SALESPHERE_HMAC_KEYS entry {index + 1} is not '<key id>=<secret>'; "
                "fix the secret version (comma-separated id=secret pairs)"
            )
        pairs.append((key_id.strip(), secret.strip()))
    return tuple(pairs)
