"""Real runs (bash, no mocks): the behaviours the acceptance names, without the sandbox."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from opsbook.engine import current_engine
from opsbook.facts import load_facts
from opsbook.harness.model import BlockResult
from opsbook.harness.reading.plan import Plan, read_page
from opsbook.harness.running.isolation import Forbidden
from opsbook.harness.verify import verify

# The project's own facts: production is https://api.opsbook.example, kube context
# opsbook-production.
FORBIDDEN = Forbidden.from_facts(load_facts(Path(__file__).resolve().parents[1] / "facts"))


def run(
    tmp_path: Path, pages: dict[str, str], caller_env: dict[str, str] | None = None
) -> dict[str, dict[int, BlockResult]]:
    """Verify Markdown pages with the real driver (no sandbox), as the caller's shell would."""
    plans = [read_page(page, text, FORBIDDEN) for page, text in pages.items()]
    for p in plans:
        assert not p.problems, p.problems
    with pytest.MonkeyPatch.context() as mp:
        for key, value in (caller_env or {}).items():
            mp.setenv(key, value)
        results = verify(Plan(plans, FORBIDDEN, None))
    return {page: {r.line: r for r in results.for_page(page)} for page in pages}


def test_broken_command_fails_with_page_line_and_diff(tmp_path: Path) -> None:
    page = "```bash\necho hello\necho wrld\n```\n\n```text\nhello\nworld\n```\n"
    res = run(tmp_path, {"p.md": page})["p.md"][1]
    assert res.status == "failed"
    assert res.message.startswith("p.md:2: output differs from p.md:7")
    assert "-world" in res.diff and "+wrld" in res.diff

    res = run(tmp_path, {"q.md": "```bash\ntrue\nfalse\necho not reached\n```\n"})["q.md"][1]
    assert res.status == "failed"
    assert res.message.startswith("q.md:3: exited 1 (expected 0): false")
    assert "not reached" not in (res.actual or "")


def test_console_block_checks_each_command(tmp_path: Path) -> None:
    page = "```console\n$ echo a\na\n$ echo b\nc\n```\n"
    res = run(tmp_path, {"c.md": page})["c.md"][1]
    assert res.status == "failed"
    assert res.message.startswith("c.md:4: output differs from c.md:5"), res.message


def test_hanging_block_is_killed_at_timeout_with_children(tmp_path: Path) -> None:
    page = (
        "<!-- opsbook: timeout=1 -->\n```bash\n"
        "sleep 300 & echo child=$!\nsetsid sleep 301 &\nsleep 302\n```\n"
    )
    start = time.monotonic()
    res = run(tmp_path, {"h.md": page})["h.md"][2]
    assert res.status == "failed" and "timed out after 1s" in res.message
    assert time.monotonic() - start < 6
    child = int(res.output.split("child=")[1].split()[0])
    time.sleep(0.2)
    assert not Path(f"/proc/{child}").exists() or "Z" in Path(f"/proc/{child}/stat").read_text()
    # nothing carrying our sleeps is left, the setsid one included
    left = [
        p
        for p in Path("/proc").iterdir()
        if p.name.isdigit() and _cmdline(p) in ("sleep 300", "sleep 301", "sleep 302")
    ]
    assert not left


def _cmdline(p: Path) -> str:
    try:
        return p.joinpath("cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return ""


def test_cd_and_export_carry_within_a_page_not_across(tmp_path: Path) -> None:
    first = (
        "```bash\nmkdir -p deep/dir && cd deep/dir\nexport GREETING=hi\nPLAIN=yes\n```\n\n"
        '```console\n$ basename "$PWD"\ndir\n$ echo $GREETING $PLAIN\nhi yes\n```\n'
    )
    second = '```console\n$ basename "$PWD"\nwork\n$ echo "[${GREETING:-unset}]"\n[unset]\n```\n'
    out = run(tmp_path, {"a.md": first, "b.md": second})
    assert out["a.md"][7].status == "passed", out["a.md"][7].diff
    b = out["b.md"][1]
    assert b.outputs[1].strip() == "[unset]"
    assert b.outputs[0].strip() == "b_md"  # each page starts in its own fresh work dir


def test_failed_block_keeps_previous_state_and_blocks_the_rest(tmp_path: Path) -> None:
    page = (
        "```bash\nexport A=1\n```\n\n```bash\nexport A=2\nfalse\n```\n\n"
        "```bash\necho $A\n```\n\n<!-- opsbook: teardown -->\n```bash\necho $A\n```\n"
    )
    res = run(tmp_path, {"f.md": page})["f.md"]
    assert res[5].status == "failed"
    assert res[10].status == "blocked"
    assert res[15].status == "passed" and res[15].output.strip() == "1"


def test_production_url_is_refused(tmp_path: Path) -> None:
    page = "```bash\ncurl -fsS https://api.opsbook.example/health/live\n```\n"
    res = run(tmp_path, {"p.md": page})["p.md"][1]
    assert res.status == "refused"
    assert "production" in res.message and "api.opsbook.example" in res.message
    page = "```bash\nkubectl --context opsbook-production get pods\n```\n"
    p = read_page("k.md", page, FORBIDDEN)
    assert p.classified[0][1].kind == "refused"


def test_caller_kubeconfig_and_cloud_credentials_are_not_visible(tmp_path: Path) -> None:
    caller = {
        "KUBECONFIG": "/root/.kube/prod",
        "AWS_SECRET_ACCESS_KEY": "s3cr3t",
        "DOCKER_HOST": "tcp://10.0.0.1:2376",
        "DOCKER_CONTEXT": "prod",
        "GOOGLE_APPLICATION_CREDENTIALS": "/x.json",
    }
    page = '```bash\nenv\necho "HOME=$HOME"\n```\n'
    res = run(tmp_path, {"e.md": page}, caller)["e.md"][1]
    assert res.status == "passed"
    assert "/root/.kube/prod" not in res.output
    assert "s3cr3t" not in res.output and "GOOGLE_" not in res.output
    assert f"DOCKER_HOST={current_engine().docker_host}" in res.output  # the sandbox's engine
    assert "DOCKER_CONTEXT" not in res.output
    assert re.search(r"^HOME=/\S*/opsbook-run-[^/]+/home$", res.output, re.M), res.output


def test_retry_until_passes_within_deadline(tmp_path: Path) -> None:
    page = (  # each attempt starts in the page's work dir, so `n` counts the attempts
        "<!-- opsbook: retry=20 -->\n```bash\n"
        "echo x >> n\ntest $(wc -l < n) -ge 3\n```\n"
    )
    res = run(tmp_path, {"r.md": page})["r.md"][2]
    assert res.status == "passed" and res.attempts == 3


@pytest.mark.parametrize("code", [0, 3])
def test_expected_exit_status(tmp_path: Path, code: int) -> None:
    page = f"<!-- opsbook: expect-exit=3 -->\n```bash\nexit {code}\n```\n"
    res = run(tmp_path, {"x.md": page})["x.md"][2]
    assert res.status == ("passed" if code == 3 else "failed")


def test_wait_for_returns_at_the_exit_and_times_out() -> None:
    import subprocess
    import time

    from opsbook.harness.running.session import wait_for

    proc = subprocess.Popen(["sleep", "0.2"])
    start = time.monotonic()
    assert wait_for(proc, 5) == 0
    assert time.monotonic() - start < 1
    slow = subprocess.Popen(["sleep", "5"])
    try:
        start = time.monotonic()
        with pytest.raises(subprocess.TimeoutExpired):
            wait_for(slow, 0.2)
        assert time.monotonic() - start < 2
    finally:
        slow.kill()
        slow.wait()
