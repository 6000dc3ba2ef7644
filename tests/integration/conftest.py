"""The `sandbox` fixture: one running sandbox for the whole test session.

The opsbook pytest plugin owns its lifetime (`opsbook_sandbox`): it reuses a sandbox that
is already healthy, otherwise builds and starts one, and takes it down at the end of the
session (keep it with OPSBOOK_KEEP_SANDBOX=1). Without Docker the tests fail, never skip:
CI installs Docker with scripts/bootstrap.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

import pytest

from opsbook.facts import Facts
from opsbook.project import Project
from opsbook.sandbox import ComposeSandbox, base_urls, status, up
from opsbook.sandbox.lifecycle import replica_addresses


@dataclass
class Sandbox:
    """A running sandbox: what the facts say, how to reach it, and helpers to poke it."""

    project: Project
    facts: Facts
    env: dict[str, str]  # compose_environment: plain `docker compose` reaches the sandbox
    urls: dict[str, str] = field(default_factory=dict)  # service -> http://127.0.0.1:port

    def ensure_healthy(self) -> None:
        """Converge back to every service healthy at the current version, after a test
        (or a documented drill) stopped, broke or redeployed something."""
        if all(s.ok for s in status(self.project, self.facts)) and _current(self):
            return
        up(self.project, self.facts, build=False, progress=lambda line: print(f"sandbox: {line}"))

    def url(self, service: str, path: str = "") -> str:
        spec = self.facts.service(service)
        if spec.max_replicas == 1:
            return self.urls[service] + path
        # A service that scales owns a range of host ports and Docker picks one per
        # replica, so ask compose which one a replica got, as a reader would.
        return self.replica_urls(service, path)[0]

    def replica_urls(self, service: str, path: str = "") -> list[str]:
        """One URL per running replica (each publishes its own host port), for what the
        proxy would spread over them: a counter is the sum of the replicas' own."""
        spec = self.facts.service(service)
        rows = self.compose("ps", "--format", "json", service).stdout
        found = replica_addresses(rows, spec.container_port)
        assert found, rows
        for where in found:
            host, _, port = where.rpartition(":")
            assert host == "127.0.0.1" and int(port) in spec.host_ports, where
        return [f"http://{where}{path}" for where in found]

    def replica_get(self, service: str, path: str) -> list[tuple[int, str]]:
        """(status, body) of GET `path` on each running replica, not through the proxy."""
        return [_fetch(url) for url in self.replica_urls(service, path)]

    def tool(
        self, name: str, *args: str, timeout: float = 300, **env: str
    ) -> subprocess.CompletedProcess[str]:
        """`python3 sandbox/tools/NAME ARGS` as a page runs it, under the sandbox env."""
        return subprocess.run(
            [sys.executable, str(self.project.sandbox_dir / "tools" / name), *args],
            env={**os.environ, **self.env, **env},
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def compose(
        self, *args: str, timeout: float = 120, check: bool = True, **env: str
    ) -> subprocess.CompletedProcess[str]:
        """`docker compose ARGS` exactly as a reader would type it, under the sandbox env."""
        done = subprocess.run(
            ["docker", "compose", *args],
            env={**os.environ, **self.env, **env},
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and done.returncode != 0:
            raise AssertionError(f"docker compose {' '.join(args)} failed:\n{done.stderr}")
        return done

    def request(
        self, service: str, path: str, *, method: str = "GET", body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        """(status, decoded JSON or text) for an HTTP call on 127.0.0.1; never raises on 4xx/5xx."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.url(service, path), data=data, method=method, headers=headers or {}
        )
        if data is not None:
            req.add_header("Content-Type", "application/json")
        status, text = _fetch(req)
        try:
            return status, json.loads(text)
        except ValueError:
            return status, text

    def wait_for(self, what: str, check, timeout: float = 60, every: float = 0.5) -> Any:
        """Poll `check()` until it returns something truthy; fail naming `what`."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            try:
                last = check()
            except (OSError, urllib.error.URLError) as exc:
                last = exc
            else:
                if last:
                    return last
            time.sleep(every)
        raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}; last: {last!r}")


def _fetch(req: urllib.request.Request | str) -> tuple[int, str]:
    """(status, body) of one HTTP call; a 4xx or 5xx is an answer, not an exception."""
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def _current(sandbox: Sandbox) -> bool:
    try:
        code, body = sandbox.request("proxy", "/version")
    except OSError:  # api not listening at all
        return False
    return code == 200 and body.get("version") == sandbox.env["API_VERSION"]


@pytest.fixture(scope="session")
def sandbox(opsbook_sandbox: ComposeSandbox) -> Sandbox:
    """The running sandbox with helpers to poke it. Its lifetime belongs to the opsbook
    pytest plugin (`opsbook_sandbox`): up once if needed, down once at the end."""
    target = opsbook_sandbox
    return Sandbox(target.project, target.facts, target.environment(),
                   urls=base_urls(target.facts))
