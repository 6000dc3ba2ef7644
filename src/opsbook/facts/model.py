"""The facts schema: one pydantic model per concern, merged into `Facts`.

pydantic (not JSON Schema) because the rules that matter most are cross-field
(warning strictly between normal and critical, unique ports) and read best as Python,
and because pages and tools get typed attributes instead of dict lookups.
"""

from __future__ import annotations

import re
from enum import StrEnum
from itertools import pairwise
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from opsbook.facts import durations

Port = Annotated[int, Field(ge=1, le=65535)]
# Prometheus durations ("90s", "5m", "1h30m"): the alert rules use them verbatim.
Duration = Annotated[str, Field(pattern=rf"^{durations.PATTERN}$")]
UrlPath = Annotated[str, Field(pattern=r"^/")]
HttpUrl = Annotated[str, Field(pattern=r"^https?://[^/\s]+")]


class Strict(BaseModel):
    """Unknown keys and silent coercions ("5" for 5) are both authoring mistakes, and so
    are `.inf` and `.nan`: no threshold or count is infinite."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


# Prometheus metric names (https://prometheus.io/docs/concepts/data_model/)
_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


def _metric_name(name: str) -> str:
    if not _METRIC_NAME.fullmatch(name):
        raise PydanticCustomError(
            "metric_name",
            "threshold names become Prometheus metric and alert names: use only letters, "
            "digits, _ and :, and do not start with a digit",
        )
    return name


MetricName = Annotated[str, AfterValidator(_metric_name)]


def _problem(kind: str, message: str, field: str) -> PydanticCustomError:
    # `field` is appended to the error's location by the loader, so the reported line
    # is the offending key's own line, not its parent's.
    return PydanticCustomError(kind, message, {"field": field})


def _claim(
    seen: dict[Any, Any], key: object, owner: object, kind: str, message: str, field: str
) -> None:
    """Record `owner` as the first holder of `key`; a second claim is the problem
    `message`, whose `{first}` names the first holder."""
    if key in seen:
        raise _problem(kind, message.format(first=seen[key]), field)
    seen[key] = owner


class Database(Strict):
    name: str
    user: str


class SandboxCredentials(Strict):
    """Passwords of the sandbox's services: sandbox-only, never real secrets (every port
    is on 127.0.0.1), but required, so nothing in the sandbox answers without them."""

    database_password: Annotated[str, Field(min_length=8)]
    redis_password: Annotated[str, Field(min_length=8)]


class KubernetesNames(Strict):
    namespace: str
    api_deployment: str
    worker_deployment: str


class SandboxInstances(Strict):
    """Sandboxes that run at once (`opsbook test -j N`, `pytest -n N`): instance K > 0 is
    compose project `compose_project`-K with every host port moved up by K x port_stride
    (facts/instances.py)."""

    port_stride: Annotated[int, Field(ge=1, le=30000)] = 4000
    max: Annotated[int, Field(ge=1, le=16)] = 4


class Platform(Strict):
    name: str
    short_name: str
    compose_project: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")]
    site_url: Annotated[str, Field(pattern=r"^https?://.+/$")]
    repository: HttpUrl
    database: Database
    kubernetes: KubernetesNames
    sandbox_credentials: SandboxCredentials
    sandbox_instances: SandboxInstances = SandboxInstances()


class Health(Strict):
    live: UrlPath | None = None
    ready: UrlPath | None = None


# Kubernetes quantities, as the manifests write them: "250m" or "1" CPU, "512Mi" memory.
Cpu = Annotated[str, Field(pattern=r"^([0-9]+m|[0-9]+(\.[0-9]+)?)$")]
Memory = Annotated[str, Field(pattern=r"^[0-9]+(Ki|Mi|Gi)$")]


class Quantities(Strict):
    cpu: Cpu
    memory: Memory


class Resources(Strict):
    """What a service's container asks for and may use (Kubernetes requests and limits;
    the sandbox's compose.yaml sets the same memory limit as `mem_limit`)."""

    requests: Quantities
    limits: Quantities


class Service(Strict):
    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]*$")]
    description: str
    image: str
    container_port: Port
    port: Port
    # Replicas the sandbox can run at once; each publishes its own host port, so the
    # service owns `port` .. `port + max_replicas - 1`.
    max_replicas: Annotated[int, Field(ge=1, le=32)] = 1
    replicas: Annotated[int, Field(ge=1, le=32)] = 1  # what it runs normally
    health: Health = Health()
    metrics_path: UrlPath | None = None
    resources: Resources | None = None

    @property
    def last_port(self) -> int:
        return self.port + self.max_replicas - 1

    @property
    def host_ports(self) -> range:
        return range(self.port, self.last_port + 1)


class Environment(Strict):
    description: str
    api_url: HttpUrl
    prometheus_url: HttpUrl
    alertmanager_url: HttpUrl
    kube_context: str | None = None
    access: list[str] = []  # what an engineer must be granted before working here
    tools: list[str] = []  # commands the pages use against this environment
    # Replicas per service on this environment's cluster (the Kubernetes overlays); a
    # service not named runs its `replicas` from facts/services.yml.
    replicas: dict[str, Annotated[int, Field(ge=1, le=64)]] = {}

    @property
    def urls(self) -> list[str]:
        return [self.api_url, self.prometheus_url, self.alertmanager_url]


class Direction(StrEnum):
    higher_is_worse = "higher_is_worse"
    lower_is_worse = "lower_is_worse"


class Hold(Strict):
    warning: Duration
    critical: Duration


class Threshold(Strict):
    title: str
    description: str
    unit: Literal["percent", "seconds", "connections", "jobs"]
    # strict mode would want a Direction instance; YAML can only give the string
    direction: Direction = Field(strict=False)
    normal: float
    warning: float
    critical: float
    query: str
    for_: Hold = Field(alias="for")
    runbook: Annotated[str, Field(pattern=r"^[\w./-]+\.md#[\w-]+$")]

    model_config = ConfigDict(populate_by_name=True)

    @model_validator(mode="after")
    def _ordered(self) -> Threshold:
        lo, hi = sorted((self.normal, self.critical))
        if not lo < self.warning < hi:
            raise _problem(
                "threshold_order",
                f"warning ({_num(self.warning)}) must lie strictly between normal "
                f"({_num(self.normal)}) and critical ({_num(self.critical)})",
                "warning",
            )
        worse = (
            self.critical > self.normal
            if self.direction is Direction.higher_is_worse
            else self.critical < self.normal
        )
        if not worse:
            raise _problem(
                "threshold_direction",
                f"critical ({_num(self.critical)}) must be "
                f"{'above' if self.direction is Direction.higher_is_worse else 'below'} "
                f"normal ({_num(self.normal)}) because direction is {self.direction.value}",
                "critical",
            )
        return self

    @property
    def is_percent(self) -> bool:
        return self.unit == "percent"

    @property
    def op(self) -> str:
        """The comparison that means "worse than": > or <."""
        return ">" if self.direction is Direction.higher_is_worse else "<"

    def show(self, value: float) -> str:
        """A value with its unit, the way pages print it (2 %, 0.5 s, 70 connections)."""
        suffix = {"percent": " %", "seconds": " s"}.get(self.unit, f" {self.unit}")
        return f"{_num(value)}{suffix}"


class Severity(Strict):
    id: Annotated[str, Field(pattern=r"^P[0-9]$")]
    name: str
    response: Duration
    update_every: Duration
    description: str
    examples: list[str]
    escalation: str


Channel = Annotated[str, Field(pattern=r"^#[a-z0-9][a-z0-9_-]*$")]


class Channels(Strict):
    incident: Channel  # opened for every declared incident
    team: Channel  # the service owner's channel
    announcements: Channel  # where status updates are echoed


class Paging(Strict):
    service: str
    primary: str  # rotation names, never people
    secondary: str


class Role(Strict):
    id: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]*$")]
    name: str
    who: str
    does: str


class EscalationStep(Strict):
    after: Duration  # since the page, unacknowledged
    to: str


class Contacts(Strict):
    service_owner: str
    channels: Channels
    paging: Paging
    status_page_component: str
    roles: list[Role]
    escalation: list[EscalationStep]

    @model_validator(mode="after")
    def _escalation_rises(self) -> Contacts:
        times = [durations.duration_ms(s.after) for s in self.escalation]
        for i, (a, b) in enumerate(pairwise(times), start=1):
            if b <= a:
                raise _problem(
                    "escalation_order",
                    f"step {i} escalates after {self.escalation[i].after}, not later than "
                    f"step {i - 1} ({self.escalation[i - 1].after}); times must rise",
                    f"escalation.{i}.after",
                )
        return self

    def role(self, role_id: str) -> Role:
        for r in self.roles:
            if r.id == role_id:
                return r
        raise KeyError(f"no role {role_id!r} in contacts.roles")


class BackupSchedule(Strict):
    full: str
    incremental: str


class Retention(Strict):
    daily: Annotated[int, Field(gt=0)]
    weekly: Annotated[int, Field(gt=0)]
    monthly: Annotated[int, Field(gt=0)]


AbsolutePath = Annotated[str, Field(pattern=r"^(/[\w.-]+)+$")]


class Archive(Strict):
    """Continuous archiving (disaster-recovery.md): where PostgreSQL copies each WAL
    segment and pg_basebackup writes base backups, inside the database's host (the
    sandbox's archive volume), and how often a segment with writes is closed."""

    directory: AbsolutePath
    timeout: Duration  # archive_timeout

    @property
    def wal(self) -> str:
        return f"{self.directory}/wal"

    @property
    def base(self) -> str:
        return f"{self.directory}/base"


class Backup(Strict):
    schedule: BackupSchedule
    retention_days: Retention
    rpo: Duration
    rto: Duration
    directory: str
    archive: Archive

    @model_validator(mode="after")
    def _objectives(self) -> Backup:
        rpo, rto = durations.duration_ms(self.rpo), durations.duration_ms(self.rto)
        if rpo <= 0 or rto <= 0:
            field = "rpo" if rpo <= 0 else "rto"
            raise _problem("objective", f"{field} must be longer than zero", field)
        if durations.duration_ms(self.archive.timeout) >= rpo:
            raise _problem(
                "archive_timeout",
                f"archive.timeout ({self.archive.timeout}) must be shorter than the rpo "
                f"({self.rpo}): a segment waiting that long to be archived is already "
                "more data than the objective allows to lose",
                "archive.timeout",
            )
        return self


class Versions(Strict):
    current: str
    previous: str
    broken: str


class Strategy(Strict):
    id: str
    name: str
    description: str
    runbook: Annotated[str, Field(pattern=r"^[\w./-]+\.md(#[\w-]+)?$")]  # where it is done


Weekday = Literal["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
ClockTime = Annotated[str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]


class Window(Strict):
    days: list[Weekday]
    start: ClockTime
    end: ClockTime
    timezone: str


class Deployment(Strict):
    versions: Versions
    default_strategy: str
    strategies: list[Strategy]
    canary_steps: list[Annotated[int, Field(ge=1, le=100)]]  # percent of requests, in order
    canary_hold: Duration  # how long each canary step serves before its check
    windows: list[Window]
    freeze: str
    watch_after_deploy: Duration
    health_timeout: Duration

    @model_validator(mode="after")
    def _known_default(self) -> Deployment:
        ids = [s.id for s in self.strategies]
        if self.default_strategy not in ids:
            raise _problem(
                "unknown_strategy",
                f"default_strategy {self.default_strategy!r} is not one of {ids}",
                "default_strategy",
            )
        steps = self.canary_steps
        if not steps or steps[-1] != 100 or any(a >= b for a, b in pairwise(steps)):
            raise _problem(
                "canary_steps",
                f"canary_steps {steps} must rise step by step and end at 100",
                "canary_steps",
            )
        return self


FaultId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]*$")]
PageAnchor = Annotated[str, Field(pattern=r"^[\w./-]+\.md#[\w-]+$")]


class Fault(Strict):
    """A fault the sandbox produces for real, and the runbook proven against it."""

    id: FaultId
    title: str
    inject: str  # shell, run hidden in the page's session before the runbook's blocks
    restore: str  # shell, always run afterwards: the sandbox back at its baseline
    alerts: list[str] = Field(default_factory=list)  # must fire (generated alert names)
    signature: str  # what the diagnosis output must show (a regular expression)
    runbook: PageAnchor  # the section proven against it
    # other sections run while it is injected (the incident page's first five minutes)
    drills: list[PageAnchor] = Field(default_factory=list)
    traffic: str | None = None  # which client traffic (scenarios.traffic) it needs to show
    # Windowed queries (rate over 5m, 10m) take longer to cross and to clear than the
    # scenarios' defaults allow; such a fault states its own.
    fire_timeout: Duration | None = None
    recover_timeout: Duration | None = None

    @field_validator("signature")
    @classmethod
    def _regex(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise PydanticCustomError("regex", f"not a regular expression: {exc}") from None
        return value


class Scenarios(Strict):
    """How fault scenarios run in the sandbox (facts/faults.yml)."""

    # The sandbox's Prometheus waits `for` x this before firing (a CI run cannot wait 5m
    # per alert), and its range windows shrink alike, to no less than a minute;
    # `promtool test rules` keeps proving the real rules.
    for_scale: Annotated[float, Field(gt=0, le=1)]
    fire_timeout: Duration  # how long a scenario waits for its alerts to fire
    recover_timeout: Duration  # and for them to resolve after the mitigation
    # Shell probes, run hidden in the page's session: `firing` prints `alertname state`
    # per pending or firing alert, `delivered` prints `epoch-seconds alertname status`
    # per alert the receiver got, `state` prints the sandbox's state (compared around the
    # diagnosis, which must change nothing).
    firing: str
    delivered: str
    state: str
    # After every page the sandbox must be back at its baseline: `baseline` prints what
    # must match (services and health, containers, volumes, networks, fault switches);
    # `reset` puts it back when a page left it otherwise, so the next page starts clean.
    baseline: str
    reset: str
    settle: Duration = "30s"  # a sandbox unlike its baseline gets this long to converge
    # Client traffic for faults that only show under load: each named script starts it in
    # the background before the injection, `traffic_stop` ends it after the restore.
    traffic: dict[str, str]
    traffic_stop: str


class Budget(Strict):
    """What a procedure under traffic may cost. None: counted and shown, not enforced."""

    lost: Annotated[int, Field(ge=0)] = 0
    refused: Annotated[int, Field(ge=0)] | None = 0
    errors: Annotated[int, Field(ge=0)] | None = 0  # requests answered 5xx


class ProcedurePage(Strict):
    """A page whose procedure runs under client traffic and must lose nothing."""

    page: str  # docs-relative path, e.g. deployment.md
    title: str
    budget: Budget = Field(default_factory=Budget)
    note: str = ""  # shown with the figures: why the budget is what it is


class Procedures(Strict):
    """Procedures proven under live traffic (facts/procedures.yml)."""

    # Shell, run hidden in the page's session: `start` before the page's first block
    # (after its hidden setup), `stop` after its last; `stop` prints one JSON line of
    # counts (accepted, completed, failed, lost, refused, errors, rate, seconds).
    start: str
    stop: str
    pages: list[ProcedurePage]

    def for_page(self, page: str) -> ProcedurePage | None:
        return next((p for p in self.pages if p.page == page), None)


class Facts(Strict):
    """Every fact, merged from facts/*.yml. Pages see this as `facts`."""

    platform: Platform
    services: list[Service]
    environments: dict[str, Environment]
    thresholds: dict[MetricName, Threshold]
    severities: list[Severity]
    contacts: Contacts
    backup: Backup
    deployment: Deployment
    scenarios: Scenarios
    faults: list[Fault]
    procedures: Procedures

    @field_validator("services")
    @classmethod
    def _unique_services(cls, services: list[Service]) -> list[Service]:
        seen_names: dict[str, int] = {}
        seen_ports: dict[int, str] = {}
        for i, svc in enumerate(services):
            if svc.last_port > 65535:
                raise _problem(
                    "port_range",
                    f"ports {svc.port}-{svc.last_port} for {svc.max_replicas} replicas "
                    "run past 65535",
                    f"{i}.max_replicas",
                )
            if svc.replicas > svc.max_replicas:
                raise _problem(
                    "replicas",
                    f"runs {svc.replicas} replicas but publishes ports for {svc.max_replicas}; "
                    "raise max_replicas",
                    f"{i}.replicas",
                )
            _claim(seen_names, svc.name, i, "duplicate_service",
                   f"service name {svc.name!r} is already used by services.{{first}}", f"{i}.name")
            for port in svc.host_ports:
                _claim(seen_ports, port, svc.name, "duplicate_port",
                       f"port {port} is already published by service {{first!r}}", f"{i}.port")
        return services

    @field_validator("faults")
    @classmethod
    def _faults_name_real_alerts(cls, faults: list[Fault], info: ValidationInfo) -> list[Fault]:
        # invalid thresholds are reported on their own: do not echo them once per fault
        known = alert_names(info.data["thresholds"]) if "thresholds" in info.data else None
        scenarios = info.data.get("scenarios")
        seen: dict[str, int] = {}
        for i, fault in enumerate(faults):
            _claim(seen, fault.id, i, "duplicate_fault",
                   f"fault id {fault.id!r} is already used by faults.{{first}}", f"{i}.id")
            if fault.traffic and scenarios is not None and fault.traffic not in scenarios.traffic:
                raise _problem(
                    "unknown_traffic",
                    f"no traffic named {fault.traffic!r} in scenarios.traffic (there are: "
                    f"{', '.join(scenarios.traffic)})",
                    f"{i}.traffic",
                )
            for k, alert in enumerate(fault.alerts):
                if known is not None and alert not in known:
                    raise _problem(
                        "unknown_alert",
                        f"{alert!r} is not a generated alert (they are: {', '.join(known)})",
                        f"{i}.alerts.{k}",
                    )
        return faults

    @model_validator(mode="after")
    def _instances_fit(self) -> Facts:
        """Every sandbox instance's port block must stay below 65536 and clear of the
        others', or two parallel sandboxes would fight over a port."""
        inst = self.platform.sandbox_instances
        ports = [p for svc in self.services for p in svc.host_ports]
        if not ports or inst.max == 1:
            return self
        span = max(ports) - min(ports) + 1
        loc = "platform.sandbox_instances"
        if inst.port_stride < span:
            raise _problem(
                "instance_overlap",
                f"port_stride {inst.port_stride} is smaller than the sandbox's port block "
                f"({min(ports)}-{max(ports)}, {span} ports): instances would share ports; "
                f"use at least {span}",
                f"{loc}.port_stride",
            )
        top = max(ports) + inst.port_stride * (inst.max - 1)
        if top > 65535:
            raise _problem(
                "instance_range",
                f"{inst.max} instances {inst.port_stride} ports apart reach port {top}, past "
                "65535; lower max or port_stride",
                f"{loc}.max",
            )
        return self

    def fault(self, fault_id: str) -> Fault | None:
        """The fault of facts/faults.yml with this id, or None."""
        return next((f for f in self.faults if f.id == fault_id), None)

    @field_validator("environments")
    @classmethod
    def _has_sandbox(
        cls, envs: dict[str, Environment], info: ValidationInfo
    ) -> dict[str, Environment]:
        if "sandbox" not in envs:
            raise _problem("no_sandbox", "an environment named 'sandbox' is required", "")
        services = {s.name for s in info.data.get("services") or []}
        for env_name, env in envs.items():
            for name in env.replicas:
                if services and name not in services:
                    raise _problem(
                        "unknown_service",
                        f"replicas names {name!r}, which is not a service of "
                        f"facts/services.yml ({', '.join(sorted(services))})",
                        f"{env_name}.replicas.{name}",
                    )
        return envs

    def service(self, name: str) -> Service:
        for svc in self.services:
            if svc.name == name:
                return svc
        known = ", ".join(s.name for s in self.services)
        raise KeyError(f"no service named {name!r} in facts (known: {known})")

    @property
    def sandbox(self) -> Environment:
        return self.environments["sandbox"]

    @property
    def remote_environments(self) -> dict[str, Environment]:
        """Environments the docs describe but the harness must never touch."""
        return {k: v for k, v in self.environments.items() if k != "sandbox"}


def alert_name(metric: str, level: str) -> str:
    """error_rate, critical -> OpsbookErrorRateCritical."""
    camel = "".join(part.capitalize() for part in metric.split("_"))
    return f"Opsbook{camel}{level.capitalize()}"


def alert_names(thresholds: dict[str, Threshold]) -> list[str]:
    """Every alert the rules generate, warning then critical per threshold."""
    return [alert_name(m, level) for m in thresholds for level in ("warning", "critical")]


def _num(value: float) -> str:
    """5.0 -> "5", 0.5 -> "0.5": pages show numbers the way a person writes them."""
    return f"{value:g}"
