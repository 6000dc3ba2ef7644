"""The trust boundary, for real: what a hostile block can and cannot do (README: Trust model).

Blocks run through the real driver as the runner user on its rootless engine; these tests
fail (never skip) when the machine runs blocks unisolated.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

import pytest

from opsbook.engine import current_engine
from opsbook.harness.model import BlockResult
from opsbook.harness.reading.plan import Plan, read_page
from opsbook.harness.verify import verify

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def _isolated() -> None:
    if current_engine().isolation != "rootless":
        pytest.fail("blocks run unisolated here: run as root after scripts/bootstrap")


def run_block(sandbox, body: str) -> BlockResult:
    from opsbook.harness.running.isolation import Forbidden

    forbidden = Forbidden.from_facts(sandbox.facts)
    page = read_page("t.md", f"```bash\n{body}\n```\n", forbidden)
    assert not page.problems, page.problems
    [res] = verify(Plan([page], forbidden, sandbox.facts), project=sandbox.project,
                   write_results=False).blocks
    return res


def test_a_block_cannot_read_the_harness_environment(
    sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPSBOOK_PROBE_SECRET", "s3cr3t-of-the-runner")
    res = run_block(
        sandbox,
        '{ cat /proc/$PPID/environ || echo "no access"; } | tr "\\0" "\\n"\n'
        "env | grep -c OPSBOOK_PROBE_SECRET || echo none in mine",
    )
    assert res.status == "passed", res.message
    assert "s3cr3t" not in res.output
    assert "Permission denied" in res.output and "none in mine" in res.output


def test_docker_in_a_block_cannot_read_or_write_the_host(sandbox) -> None:
    probe = Path("/usr/local/bin/opsbook-probe")
    probe.unlink(missing_ok=True)
    res = run_block(
        sandbox,
        "run() { docker run --rm -v /:/host debian:bookworm-slim \"$@\"; }\n"
        "if run cat /host/etc/shadow; then echo SHADOW-READ; else echo shadow-denied; fi\n"
        "if run touch /host/usr/local/bin/opsbook-probe; then echo BIN-WRITTEN; "
        "else echo bin-denied; fi",
    )
    assert res.status == "passed", res.message + res.output
    assert "shadow-denied" in res.output and "bin-denied" in res.output, res.output
    assert "SHADOW-READ" not in res.output and "root:" not in res.output
    assert not probe.exists()


@pytest.mark.parametrize(
    "spell",
    [
        "h=$(printf 'api.%s.example' opsbook)",  # built with printf
        "a=api.ops; b=book.example; h=$a$b",  # split across variables
        # read from the facts at run time
        "h=$(sed -n 's|^ *api_url: https://\\(api\\.[a-z]*\\.example\\)$|\\1|p' "
        "\"$FACTS\"/environments.yml | tail -n 1)",
    ],
    ids=["printf", "split", "from-facts"],
)
def test_production_host_spelled_around_the_name_check_goes_nowhere(
    sandbox, spell: str
) -> None:
    # the runner reads a copy: the checkout itself may sit in a folder only root can enter
    facts_dir = Path(tempfile.mkdtemp(prefix="opsbook-facts-"))
    facts_dir.chmod(0o755)
    shutil.copy(sandbox.project.facts_dir / "environments.yml", facts_dir)
    (facts_dir / "environments.yml").chmod(0o644)
    try:
        res = run_block(
        sandbox,
            f"FACTS={facts_dir}\n{spell}\n"
            'echo "host=$h"\n'
            'getent hosts "$h"\n'
            'if curl -sS --max-time 5 -o /dev/null "https://$h/"; then echo REACHED; '
            "else echo not-reached; fi",
        )
    finally:
        shutil.rmtree(facts_dir)
    assert res.status == "passed", res.message + res.output
    assert "host=api.opsbook.example" in res.output, res.output
    assert re.search(r"^127\.255\.255\.255\s+api\.opsbook\.example", res.output, re.M)
    assert "not-reached" in res.output and "REACHED" not in res.output


def test_redis_answers_no_one_without_its_password(sandbox) -> None:
    port = sandbox.facts.service("redis").port
    password = sandbox.facts.platform.sandbox_credentials.redis_password
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(b"PING\r\n")
        assert conn.recv(200).startswith(b"-NOAUTH"), "Redis answered without a password"
        conn.sendall(f"AUTH {password}\r\nPING\r\n".encode())
        reply = b""
        while b"PONG" not in reply and len(reply) < 200:
            reply += conn.recv(200)
        assert reply.startswith(b"+OK"), reply


def test_postgres_superuser_is_not_usable_from_the_host(sandbox) -> None:
    db = sandbox.facts.platform.database
    port = str(sandbox.facts.service("postgres").port)
    env = {**os.environ,
           "PGPASSWORD": sandbox.facts.platform.sandbox_credentials.database_password,
           "PGCONNECT_TIMEOUT": "10"}

    def psql(user: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["psql", "-h", "127.0.0.1", "-p", port, "-U", user, "-d", db.name, "-tAc",
             "SELECT current_user"],
            env=env, capture_output=True, text=True, timeout=30,
        )

    app = psql(db.user)
    assert app.returncode == 0 and app.stdout.strip() == db.user, app.stderr
    superuser = psql("postgres")
    assert superuser.returncode != 0
    assert "rejects connection" in superuser.stderr, superuser.stderr


def test_the_worker_port_sandbox_up_prints_is_the_one_that_answers(sandbox) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "opsbook", "--project", str(sandbox.project.root),
         "sandbox", "up", "--no-build"],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    [url] = re.findall(r"^\s+worker\s+(http://127\.0\.0\.1:\d+)", done.stdout, re.M)
    with urllib.request.urlopen(url + "/health/live", timeout=10) as resp:
        assert resp.status == 200
