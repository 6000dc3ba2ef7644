"""Developer and CI entry points. `nox -l` lists them; the README names the two that matter.

    nox -s serve    build the site, then preview it on http://127.0.0.1:8000
    nox -s tests    machine setup (Docker, Compose, promtool), then every test, sandbox included
"""

from __future__ import annotations

import os
from pathlib import Path

import nox

nox.options.sessions = ["lint", "tests"]
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = True

PYTHON = "3.11"
ENV = {"NO_MKDOCS_2_WARNING": "1"}


def install(session: nox.Session) -> None:
    session.install("-e", ".[test]")


def bootstrap(session: nox.Session) -> None:
    """Docker engine, Compose v2, promtool and the base image: idempotent, fast when done."""
    if os.geteuid() == 0:
        session.run("bash", "scripts/bootstrap", external=True)
    else:
        session.run("sudo", "bash", "scripts/bootstrap", external=True)


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Everything CI checks: unit tests, a strict build, links, alert rules, and every shell
    block on the site run against the sandbox (brought up and down by the tests)."""
    bootstrap(session)
    install(session)
    session.run("opsbook", "k8s", "render", "--check")  # deploy/k8s/ matches the facts
    # --opsbook: every shell block on the site is a test item (page.md:LINE), run against
    # the sandbox that --opsbook-sandbox brings up first and takes down last.
    args = session.posargs or ["--opsbook", "--opsbook-sandbox", "--junitxml=.opsbook/junit.xml"]
    session.run("pytest", *args, env=ENV)


@nox.session(python=PYTHON)
def build(session: nox.Session) -> None:
    """Build the site into site/ with `mkdocs build --strict`."""
    install(session)
    session.run("opsbook", "facts", "check")
    session.run("mkdocs", "build", "--strict", env=ENV)


@nox.session(python=PYTHON)
def serve(session: nox.Session) -> None:
    """Build the site and serve it on 127.0.0.1:8000; edits to docs/, facts/ or snippets/
    rebuild it. Stop with Ctrl-C."""
    install(session)
    session.run("opsbook", "facts", "check")
    session.run("mkdocs", "serve", "--strict", "--dev-addr", "127.0.0.1:8000", *session.posargs,
                env=ENV)


@nox.session(python=PYTHON)
def links(session: nox.Session) -> None:
    """Build the site, then check every link and anchor with lychee (offline)."""
    install(session)
    session.run("mkdocs", "build", "--strict", env=ENV)
    session.run("opsbook", "links", "site")


@nox.session(python=PYTHON)
def verify(session: nox.Session) -> None:
    """Run every shell block on the site against the sandbox (sandbox up, pages, down)."""
    bootstrap(session)
    install(session)
    session.run("opsbook", "test", *session.posargs, env=ENV)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff over the package, tests, benchmarks, the sandbox's tools and this file; the
    CI workflows against GitHub's workflow schema (vendored by check-jsonschema) and
    zizmor's audits, both offline."""
    session.install("ruff>=0.5", "check-jsonschema>=0.29", "zizmor>=1.0")
    session.run("ruff", "check", "src", "tests", "benchmarks", "sandbox", "noxfile.py")
    workflows = sorted(str(p) for p in Path(".github/workflows").glob("*.yml"))
    if not workflows:
        session.error("no workflow in .github/workflows/")
    session.run("check-jsonschema", "--builtin-schema", "vendor.github-workflows", *workflows)
    session.run("zizmor", "--offline", "--persona=auditor", *workflows)


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """The benchmarks: site build overhead (at 9, 100 and 1,000 pages too), harness
    overhead, sandbox start-up, incremental and live verification (`-- --full` adds the
    full run at -j 1 and -j 2, about 45 minutes)."""
    bootstrap(session)
    install(session)
    for script in ("site_build.py", "scale.py", "harness.py", "sandbox.py"):
        session.run("python", f"benchmarks/{script}", env=ENV)
    session.run("python", "benchmarks/incremental.py", "--sandbox", *session.posargs, env=ENV)
