#!/usr/bin/env python3
"""Rolling update of a Compose service behind the proxy: no refused request, no 5xx.

    rollout.py api [--replicas 2] [--timeout 120] [--pause 2]

1. The replicas running now (any state: a stalled earlier rollout's too) are the old ones.
2. Start --replicas new ones beside them from the service's current configuration (the
   image API_VERSION names): `docker compose up --no-recreate --scale`.
3. Wait until every new replica's health check says healthy. If one is not healthy within
   --timeout, or exits, remove the new ones and stop (exit 1): the old ones never stopped
   serving, so an aborted rollout costs clients nothing.
4. Retire the old replicas one at a time: `docker stop` (the replica reports not ready,
   the proxy takes it out of rotation, it finishes what it has in hand), `docker rm`, a
   pause, the next.

Compose's own `up` recreates every replica at once, which is an outage; this is the
rollout the deployment and rollback runbooks use. Reads the same environment as `docker
compose` (`eval "$(opsbook sandbox env)"`). Progress on stderr, a summary on stdout.
"""

from __future__ import annotations

import argparse
import sys
import time

import dockercli  # beside this file
from dockercli import ToolError

QUERY_TIMEOUT = 30.0  # seconds for one docker command that only looks
CHANGE_TIMEOUT = 180.0  # seconds for one that creates or stops containers
STOP_GRACE = 15  # seconds docker waits for a replica to drain and exit


class RolloutError(ToolError):
    pass


def say(message: str) -> None:
    print(f"rollout: {message}", file=sys.stderr, flush=True)


def docker(*args: str, timeout: float = QUERY_TIMEOUT) -> str:
    return dockercli.docker(*args, timeout=timeout)


def replicas(service: str) -> list[str]:
    """Container ids of the service, running or not, oldest first."""
    ids = docker("compose", "ps", "--all", "--quiet", service).split()
    if not ids:
        return []
    created = docker("inspect", "--format", "{{.Created}} {{.Id}}", *ids).splitlines()
    return [line.split()[1][:12] for line in sorted(created)]


def health(containers: list[str]) -> dict[str, str]:
    """Each container's healthy | unhealthy | starting | exited ...; `none` without a
    health check. One `docker inspect` for all of them."""
    lines = docker(
        "inspect",
        "--format",
        "{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}",
        *containers,
    ).splitlines()
    states = {}
    for container, line in zip(containers, lines, strict=True):
        status, check = line.split()
        states[container] = check if status == "running" else status
    return states


def wait_healthy(new: list[str], timeout: float) -> str | None:
    """None when all are healthy; else why not."""
    deadline = time.monotonic() + timeout
    last = ""
    while True:
        states = health(new)
        line = ", ".join(f"{c} {s}" for c, s in states.items())
        if line != last:
            say(f"new replicas: {line}")
            last = line
        if all(s in ("healthy", "none") for s in states.values()):
            return None
        gone = [c for c, s in states.items() if s not in ("healthy", "starting", "unhealthy")]
        if gone:
            return f"new replica {gone[0]} is {states[gone[0]]}"
        if time.monotonic() > deadline:
            bad = [c for c, s in states.items() if s != "healthy"]
            return f"new replica {bad[0]} not healthy after {timeout:.0f} s ({states[bad[0]]})"
        time.sleep(1)


def retire(containers: list[str], pause: float) -> None:
    for i, container in enumerate(containers):
        say(f"retiring {container} ({i + 1}/{len(containers)}): drain, stop, remove")
        docker("stop", "--time", str(STOP_GRACE), container, timeout=CHANGE_TIMEOUT)
        docker("rm", container)
        if i + 1 < len(containers):
            time.sleep(pause)


def rollout(service: str, count: int, timeout: float, pause: float) -> int:
    old = replicas(service)
    say(f"{service}: {len(old)} replica(s) now; starting {count} new beside them")
    docker(
        "compose", "up", "--detach", "--no-deps", "--no-recreate",
        "--scale", f"{service}={len(old) + count}", service,
        timeout=CHANGE_TIMEOUT,
    )  # fmt: skip
    new = [c for c in replicas(service) if c not in old]
    if len(new) != count:
        raise RolloutError(f"expected {count} new replica(s), compose started {len(new)}")
    problem = wait_healthy(new, timeout)
    if problem:
        say(f"aborting: {problem}; removing the new replicas")
        docker("rm", "--force", *new, timeout=CHANGE_TIMEOUT)
        print(f"rollout of {service} aborted: {problem}; the {len(old)} old replica(s) serve on")
        return 1
    retire(old, pause)
    images = docker("inspect", "--format", "{{.Config.Image}}", *new).split()
    print(f"rolled out {service}: {len(new)} replica(s) of {', '.join(sorted(set(images)))}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Run with the sandbox's compose environment: eval \"$(opsbook sandbox env)\"",
    )
    parser.add_argument("service", help="the Compose service to roll out, e.g. api")
    parser.add_argument("--replicas", type=int, default=2, help="new replicas (default 2)")
    parser.add_argument("--timeout", type=float, default=120.0,
                        help="seconds the new replicas get to become healthy (default 120)")
    parser.add_argument("--pause", type=float, default=2.0,
                        help="seconds between retiring two old replicas (default 2)")  # fmt: skip
    args = parser.parse_args(argv)
    if not 1 <= args.replicas <= 8:
        parser.error("--replicas must be 1-8")
    try:
        return rollout(args.service, args.replicas, args.timeout, args.pause)
    except ToolError as exc:
        print(f"rollout: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rollout: interrupted; check `docker compose ps` before going on", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
