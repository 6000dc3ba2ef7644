"""Facts -> what each service needs on a cluster, before any Kubernetes syntax.

The facts give names, images, ports, health paths, replicas and resources. What they do
not say (a process's arguments, where it keeps data, how PostgreSQL and Redis are probed)
is what `sandbox/compose.yaml` says for the same service, restated here once: the cluster
runs the images the sandbox builds, configured the same way.

The proxy is not deployed: on a cluster a Service spreads requests over the ready api
pods, which is the proxy's whole job in the sandbox.
"""

from __future__ import annotations

from dataclasses import dataclass

from opsbook.errors import OpsbookError
from opsbook.facts import Facts
from opsbook.facts.model import Resources

DEPLOYED = ("api", "worker", "postgres", "redis", "prometheus", "alertmanager")
# keys of the credentials Secret; the kind overlay fills them from
# platform.sandbox_credentials, a real environment creates the Secret out of band
DB_PASSWORD = "DB_PASSWORD"
REDIS_PASSWORD = "REDIS_PASSWORD"


@dataclass(frozen=True)
class Probe:
    """An HTTP GET of `path` on the container's port, or `command` run in it."""

    path: str | None = None
    command: tuple[str, ...] = ()


@dataclass(frozen=True)
class EnvVar:
    name: str
    value: str | None = None
    secret_key: str | None = None  # read from the credentials Secret
    limit_of: str | None = None  # the container's own limit (resourceFieldRef)


@dataclass(frozen=True)
class Mount:
    name: str
    path: str
    config_map: str | None = None  # None: the workload's data (a claim, or emptyDir)


@dataclass(frozen=True)
class Workload:
    name: str
    component: str  # app.kubernetes.io/component
    image: str
    port: int
    port_name: str
    replicas: int
    resources: Resources | None
    startup: Probe | None  # the live probe, patient while the process starts
    live: Probe | None
    ready: Probe | None
    args: tuple[str, ...] = ()
    env: tuple[EnvVar, ...] = ()
    mounts: tuple[Mount, ...] = ()
    stateful: bool = False  # a StatefulSet with a volume claim for the `data` mount
    storage: str = ""  # the claim's size
    scraped: bool = False  # Prometheus finds every pod through a headless Service

    @property
    def data(self) -> Mount | None:
        return next((m for m in self.mounts if m.config_map is None), None)


def _shell(script: str) -> Probe:
    return Probe(command=("sh", "-c", script))


def workloads(facts: Facts, images: dict[str, str]) -> list[Workload]:
    """One Workload per deployed service, in the order of facts/services.yml."""
    db = facts.platform.database
    secret_env = (
        EnvVar(DB_PASSWORD, secret_key=DB_PASSWORD),
        EnvVar(REDIS_PASSWORD, secret_key=REDIS_PASSWORD),
    )
    # $(VAR) is expanded by the kubelet from the variables defined before it
    app_env = (
        *secret_env,
        EnvVar("DATABASE_URL",
               f"postgresql+psycopg://{db.user}:$({DB_PASSWORD})@postgres:"
               f"{facts.service('postgres').container_port}/{db.name}"),
        EnvVar("REDIS_URL",
               f"redis://:$({REDIS_PASSWORD})@redis:{facts.service('redis').container_port}/0"),
        # the app's memory metrics read the limit here (cgroups may not say it)
        EnvVar("OPSBOOK_MEMORY_LIMIT_BYTES", limit_of="limits.memory"),
    )
    extra: dict[str, dict] = {
        "api": {"component": "api", "args": ("api",), "env": app_env, "scraped": True},
        "worker": {
            "component": "worker",
            "args": ("worker",),
            "env": (*app_env, EnvVar("WORKER_PORT", str(facts.service("worker").container_port))),
            "scraped": True,
        },
        "postgres": {
            "component": "database",
            "env": (
                EnvVar("POSTGRES_DB", db.name),
                EnvVar("POSTGRES_USER", db.user),
                EnvVar("POSTGRES_PASSWORD", secret_key=DB_PASSWORD),
                # a subfolder: a fresh volume's root may hold lost+found, which initdb refuses
                EnvVar("PGDATA", "/var/lib/postgresql/data/pgdata"),
            ),
            "mounts": (Mount("data", "/var/lib/postgresql/data"),),
            "stateful": True,
            "storage": "1Gi",
            "probe": _shell('pg_isready -q -h 127.0.0.1 -U "$POSTGRES_USER" -d "$POSTGRES_DB"'),
        },
        "redis": {
            "component": "queue",
            "args": ("redis-server", "--bind", "0.0.0.0", "--protected-mode", "yes", "--dir",
                     "/data", "--appendonly", "yes", "--requirepass", f"$({REDIS_PASSWORD})"),
            # REDISCLI_AUTH lets `kubectl exec ... redis-cli` use the password as written
            "env": (EnvVar(REDIS_PASSWORD, secret_key=REDIS_PASSWORD),
                    EnvVar("REDISCLI_AUTH", secret_key=REDIS_PASSWORD)),
            "mounts": (Mount("data", "/data"),),
            "stateful": True,
            "storage": "1Gi",
            "probe": _shell("redis-cli ping | grep -q PONG"),
        },
        "prometheus": {
            "component": "monitoring",
            "args": ("--config.file=/etc/prometheus/config/prometheus.yml",
                     "--storage.tsdb.path=/prometheus", "--web.listen-address=:9090",
                     "--web.enable-lifecycle"),
            "mounts": (Mount("config", "/etc/prometheus/config", "prometheus-config"),
                       Mount("rules", "/etc/prometheus/rules", "prometheus-rules"),
                       Mount("data", "/prometheus")),
        },
        "alertmanager": {
            "component": "alerting",
            "args": ("--config.file=/etc/alertmanager/config/alertmanager.yml",
                     "--storage.path=/alertmanager", "--web.listen-address=:9093",
                     "--cluster.listen-address="),
            "mounts": (Mount("config", "/etc/alertmanager/config", "alertmanager-config"),
                       Mount("data", "/alertmanager")),
        },
    }
    found: list[Workload] = []
    for spec in facts.services:
        if spec.name not in DEPLOYED:
            continue
        if spec.name not in images:
            raise OpsbookError(f"sandbox/compose.yaml has no image for service {spec.name}")
        more = extra[spec.name]
        exec_probe: Probe | None = more.get("probe")
        live = Probe(spec.health.live) if spec.health.live else exec_probe
        ready = Probe(spec.health.ready) if spec.health.ready else exec_probe
        found.append(Workload(
            name=spec.name,
            component=more["component"],
            image=images[spec.name],
            port=spec.container_port,
            port_name="http" if spec.health.live or spec.health.ready else spec.name,
            replicas=spec.replicas,
            resources=spec.resources,
            startup=live,
            live=live,
            ready=ready,
            args=more.get("args", ()),
            env=more.get("env", ()),
            mounts=more.get("mounts", ()),
            stateful=more.get("stateful", False),
            storage=more.get("storage", ""),
            scraped=more.get("scraped", False),
        ))
    return found
