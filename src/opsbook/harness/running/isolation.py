"""What keeps a block to the sandbox: who it runs as, the environment it gets, and the
targets it must not name or reach. See the README's trust model.

- `Confinement`: in rootless isolation (opsbook.engine) a block runs as the unprivileged
  runner user, with no way to gain privileges (`setpriv --no-new-privs`); when the harness
  is root, each block also gets a private /etc/hosts (a mount namespace) in which the
  staging and production hosts of the facts resolve to 127.255.255.255, an address no
  connection reaches, so a host spelled around the text check still goes nowhere.
- `scrubbed_env`: built from an allowlist, never inherited wholesale. A reader's shell may
  point at a production cluster (KUBECONFIG, kube contexts), a remote Docker engine
  (DOCKER_HOST, DOCKER_CONTEXT, ~/.docker contexts) or a cloud account. None of that
  reaches a block: HOME, TMPDIR, DOCKER_CONFIG and KUBECONFIG point into the run's own
  temp dir, Docker is pinned to the sandbox's engine, and the sandbox's compose settings
  are added so `docker compose exec api ...` reaches the sandbox as written.
- `Forbidden`: the text check that refuses a block naming a staging or production target.

The environment and the text check are accident guards; the runner user is the boundary.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from opsbook.engine import LOCAL_DOCKER, Engine
from opsbook.facts import Facts

KEEP = ("PATH", "LANG", "LANGUAGE", "TERM", "TZ", "USER", "LOGNAME", "SHELL")
KEEP_PREFIXES = ("LC_",)
# Never let these through, even if a caller passes them in `extra`.
DENY_PREFIXES = (
    "AWS_",
    "GOOGLE_",
    "GCLOUD_",
    "CLOUDSDK_",
    "AZURE_",
    "ARM_",
    "DIGITALOCEAN_",
    "HCLOUD_",
    "OS_",
    "KUBE",
    "HELM_",
    "DOCKER_CERT",
    "DOCKER_TLS",
    "VAULT_",
    "TF_VAR_",
    "SSH_AUTH",
    "GITHUB_TOKEN",
    "GH_TOKEN",
    "NPM_TOKEN",
)
UNREACHABLE = "127.255.255.255"  # loopback broadcast: connect() fails at once, sends nothing


def scrubbed_env(
    run_dir: Path,
    extra: Mapping[str, str] | None = None,
    source: Mapping[str, str] | None = None,
    docker_host: str = LOCAL_DOCKER,
) -> dict[str, str]:
    """The environment for blocks of one run. `run_dir` is the per-run temp dir."""
    source = os.environ if source is None else source
    env = {k: v for k, v in source.items() if k in KEEP or k.startswith(KEEP_PREFIXES)}
    home = run_dir / "home"
    tmp = run_dir / "tmp"
    docker_config = home / ".docker"
    for d in (home, tmp, docker_config):
        d.mkdir(parents=True, exist_ok=True)
    _link_cli_plugins(source, docker_config)
    env.update(
        {
            "HOME": str(home),
            "TMPDIR": str(tmp),
            "DOCKER_HOST": docker_host,
            "DOCKER_CONFIG": str(docker_config),
            "KUBECONFIG": str(home / ".kube" / "none"),  # exists nowhere: kubectl talks to nobody
            "LANG": env.get("LANG", "C.UTF-8"),
            "TERM": "dumb",
            "NO_COLOR": "1",
            "PAGER": "cat",
            "GIT_PAGER": "cat",
            "SYSTEMD_PAGER": "",
            "DEBIAN_FRONTEND": "noninteractive",
        }
    )
    for key, value in (extra or {}).items():
        if key.startswith(DENY_PREFIXES) or key in ("DOCKER_CONTEXT", "DOCKER_HOST"):
            continue
        env[key] = value
    return env


def _link_cli_plugins(source: Mapping[str, str], docker_config: Path) -> None:
    """Keep a user-installed `docker compose` plugin working under the empty DOCKER_CONFIG."""
    original = Path(source.get("DOCKER_CONFIG") or Path(source.get("HOME", "/")) / ".docker")
    plugins = original / "cli-plugins"
    target = docker_config / "cli-plugins"
    if plugins.is_dir() and not target.exists():
        target.symlink_to(plugins)


@dataclass(frozen=True)
class Forbidden:
    """What a runnable block must not name: non-sandbox URLs, hosts and kube contexts."""

    needles: tuple[tuple[str, str], ...] = ()  # (text, environment name)
    hosts: tuple[str, ...] = ()  # the host names of the URLs among the needles
    # one alternation compiled once: a pattern per needle per block cost 1.4 s per 1,000 pages
    _pattern: re.Pattern[str] | None = field(default=None, init=False, repr=False, compare=False)
    _ascii_needles: tuple[str, ...] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        if self.needles:
            # longest first, so a URL wins over the host inside it
            alternatives = sorted({n for n, _ in self.needles}, key=len, reverse=True)
            body = "|".join(re.escape(n) for n in alternatives)
            pattern = re.compile(r"(?<![\w.-])(?:" + body + r")(?![\w-])", re.I)
            object.__setattr__(self, "_pattern", pattern)
            if all(n.isascii() for n in alternatives):
                object.__setattr__(self, "_ascii_needles", tuple(n.lower() for n in alternatives))

    @classmethod
    def from_facts(cls, facts: Facts | None) -> Forbidden:
        if facts is None:
            return cls()
        needles: list[tuple[str, str]] = []
        hosts: list[str] = []
        for name, env in facts.remote_environments.items():
            for url in env.urls:
                url = url.rstrip("/")
                needles.append((url, name))
                host = urlparse(url).hostname
                if host:
                    needles.append((host, name))
                    hosts.append(host)
            if env.kube_context:
                needles.append((env.kube_context, name))
        return cls(tuple(dict.fromkeys(needles)), tuple(dict.fromkeys(hosts)))

    def find(self, text: str) -> tuple[str, str] | None:
        """(needle, environment) of the first forbidden target `text` names, else None."""
        if self._pattern is None:
            return None
        # Most blocks name none of them: a substring test says so fast. Only for ASCII,
        # where lower() agrees with the pattern's IGNORECASE (Unicode folds more).
        if text.isascii() and self._ascii_needles is not None:
            low = text.lower()
            if not any(n in low for n in self._ascii_needles):
                return None
        if not (m := self._pattern.search(text)):
            return None
        hit = m.group(0).lower()
        return next((n, env) for n, env in self.needles if n.lower() == hit)


@dataclass(frozen=True)
class Confinement:
    """How a block's shell is started: as whom, and with which /etc/hosts."""

    engine: Engine
    hosts_file: Path | None = None  # private /etc/hosts for every block; root only

    @classmethod
    def for_run(cls, engine: Engine, forbidden: Forbidden, run_dir: Path) -> Confinement:
        hosts = forbidden.hosts
        if os.geteuid() != 0 or not hosts:
            return cls(engine)
        path = run_dir / "hosts"
        base = Path("/etc/hosts").read_text() if Path("/etc/hosts").is_file() else ""
        lines = [f"{UNREACHABLE} {host}  # opsbook: not reachable from a block" for host in hosts]
        path.write_text(base.rstrip("\n") + "\n" + "\n".join(lines) + "\n")
        path.chmod(0o644)
        return cls(engine, path)

    def argv(self, script: Path) -> list[str]:
        """The command that runs `script` in a new bash, confined."""
        shell = ["bash", "--noprofile", "--norc", str(script)]
        if self.engine.isolation == "rootless":
            shell = [
                "setpriv", f"--reuid={self.engine.uid}", f"--regid={self.engine.gid}",
                "--init-groups", "--no-new-privs", "--", *shell,
            ]
        if self.hosts_file is None:
            return shell
        return [
            "unshare", "--mount", "--propagation", "private", "--",
            "/bin/sh", "-c", 'mount --bind "$0" /etc/hosts && exec "$@"',
            str(self.hosts_file), *shell,
        ]

    def hand_over(self, *paths: Path) -> None:
        """Give the runner user `paths` (folders it must write in), recursively."""
        if self.engine.isolation != "rootless":
            return
        uid, gid = self.engine.uid, self.engine.gid
        assert uid is not None and gid is not None
        for top in paths:
            for path in (top, *top.rglob("*")):
                os.chown(path, uid, gid, follow_symlinks=False)
