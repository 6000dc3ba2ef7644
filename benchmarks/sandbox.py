"""Benchmark: sandbox start-up and image build times, and the images' sizes.

1. `up` to all-healthy with every image cached (`build=False`), from a sandbox that is
   down, several runs; target under 30 s. Also `up` with its stale-image check (a
   cached build), which is what `opsbook sandbox up` does by default.
2. A first build from nothing: wheels downloaded again and every image built with
   --no-cache (`--with-base-image` also remakes debian:bookworm-slim first).
3. The size of every sandbox image.

The sandbox is down when this finishes.

    python benchmarks/sandbox.py [--runs 3] [--skip-build] [--with-base-image]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import time

from opsbook.facts import load_facts
from opsbook.project import find_project
from opsbook.sandbox import build_images, down, up
from opsbook.sandbox.docker import engine_env, require_docker
from opsbook.sandbox.wheels import STAMP

TARGET_UP_SECONDS = 30.0


def quiet(_: str) -> None:
    pass


def timed(action) -> float:
    start = time.monotonic()
    action()
    return time.monotonic() - start


def image_sizes() -> list[tuple[str, int]]:
    out = subprocess.run(
        ["docker", "image", "ls", "--format", "{{.Repository}}:{{.Tag}}\t{{.ID}}"],
        capture_output=True, text=True, timeout=30, check=True, env=engine_env(),
    ).stdout  # fmt: skip
    names = [line.split("\t")[0] for line in out.splitlines()]
    wanted = sorted(n for n in names if n.startswith("opsbook/") or n == "debian:bookworm-slim")
    sizes = []
    for name in wanted:
        size = subprocess.run(
            ["docker", "image", "inspect", "-f", "{{.Size}}", name],
            capture_output=True, text=True, timeout=30, check=True, env=engine_env(),
        ).stdout  # fmt: skip
        sizes.append((name, int(size)))
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--skip-build", action="store_true", help="skip the from-nothing build")
    parser.add_argument(
        "--with-base-image",
        action="store_true",
        help="also remake debian:bookworm-slim (by debootstrap where there is no registry)",
    )
    args = parser.parse_args()

    require_docker()
    project = find_project()
    facts = load_facts(project.facts_dir)

    try:
        if not args.skip_build:
            down(project, facts)
            if args.with_base_image:
                subprocess.run(["docker", "image", "rm", "-f", "debian:bookworm-slim"],
                               capture_output=True, timeout=60, env=engine_env())  # fmt: skip
            (project.sandbox_dir / "app" / "wheelhouse" / STAMP).unlink(missing_ok=True)
            first = timed(lambda: build_images(project, facts, quiet, no_cache=True))
            what = "base image + " if args.with_base_image else ""
            print(
                f"first build from nothing ({what}wheels + all images, --no-cache): {first:.1f} s"
            )

        cached: list[float] = []
        for _ in range(args.runs):
            down(project, facts)
            cached.append(timed(lambda: up(project, facts, build=False, progress=quiet)))
        median = statistics.median(cached)
        verdict = "ok" if median < TARGET_UP_SECONDS else "OVER TARGET"
        runs = ", ".join(f"{t:.1f}" for t in cached)
        print(f"up -> all healthy, images cached: median {median:.1f} s "
              f"(runs: {runs}; target < {TARGET_UP_SECONDS:.0f} s: {verdict})")  # fmt: skip

        down(project, facts)
        with_check = timed(lambda: up(project, facts, build=True, progress=quiet))
        print(f"up with the stale-image check (cached build), to all healthy: {with_check:.1f} s")
    finally:
        down(project, facts)

    print("image sizes (layers are shared: the app images differ only in their last layers):")
    for name, size in image_sizes():
        print(f"  {name:<32} {size / 1e6:7.1f} MB")


if __name__ == "__main__":
    main()
