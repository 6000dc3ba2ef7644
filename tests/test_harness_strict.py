"""No false passes: a block passes only if it ran, correctly, to its last line.

Real bash through the real driver (`verify`), no sandbox needed.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from opsbook.engine import current_engine
from opsbook.harness.model import BlockResult
from opsbook.harness.reading.plan import Plan, read_page
from opsbook.harness.running.isolation import Forbidden
from opsbook.harness.verify import verify
from opsbook.project import Project


def run_page(text: str, page: str = "p.md") -> dict[int, BlockResult]:
    plan = read_page(page, text, Forbidden())
    assert not plan.problems, plan.problems
    results = verify(Plan([plan], Forbidden(), None))
    return {r.line: r for r in results.blocks}


def bash(body: str) -> str:
    return f"```bash\n{body}\n```\n"


@pytest.mark.parametrize(
    "pipeline",
    [
        "false | cat",
        "curl -fsS http://127.0.0.1:1/ | tee copy.txt",
        "grep nothing /dev/null | wc -l",
    ],
)
def test_a_failing_pipeline_fails_the_block(pipeline: str) -> None:
    [res] = run_page(bash(f"{pipeline}\necho reached-the-end")).values()
    assert res.status == "failed", res
    assert res.message.startswith("p.md:2: exited "), res.message
    assert "reached-the-end" not in res.output


@pytest.mark.parametrize("leave", ["exec bash", "exit 0", "exec true", "kill -TERM $$ || true"])
def test_a_block_that_leaves_its_shell_early_does_not_pass(leave: str) -> None:
    [res] = run_page(bash(f"echo first\n{leave}\necho never reached")).values()
    assert res.status == "failed", res
    assert "never reached" not in res.output
    assert "ended before its last line" in res.message or "killed by signal" in res.message


def test_kill_9_of_the_shell_is_reported_as_a_signal() -> None:
    [res] = run_page(bash("echo before\nkill -9 $$\necho after")).values()
    assert res.status == "failed"
    assert "killed by signal SIGKILL (9)" in res.message, res.message
    assert "exited" not in res.message


def test_trap_minus_err_still_names_the_failing_line() -> None:
    [res] = run_page(bash("trap - ERR\necho one\nfalse\necho three")).values()
    assert res.status == "failed"
    assert res.message.startswith("p.md:4: exited 1 (expected 0): false"), res.message


def test_trap_minus_exit_does_not_lose_the_state_for_the_next_block() -> None:
    page = bash("trap - EXIT\nexport CARRIED=yes\ncd /tmp") + "\n" + bash('echo "$CARRIED $PWD"')
    first, second = run_page(page).values()
    assert (first.status, second.status) == ("passed", "passed"), (first, second)
    assert second.output.strip() == "yes /tmp"


def test_a_blocks_own_exit_trap_runs_and_chains_with_ours() -> None:
    page = bash("trap 'echo goodbye' EXIT\nexport KEPT=1") + "\n" + bash('echo "kept=$KEPT"')
    first, second = run_page(page).values()
    assert first.status == "passed" and "goodbye" in first.output
    assert second.output.strip() == "kept=1"  # and the trap did not carry to the next block


@pytest.mark.parametrize(
    "comment",
    [
        "<!-- opsbok: skip=destructive -->",
        "<!-- Opsbook: skip=destructive -->",
        "<!-- opsbook skip=destructive -->",
        "<!--opsboook: skip=destructive-->",
    ],
)
def test_a_misspelled_directive_is_an_error_not_a_comment(comment: str) -> None:
    plan = read_page("p.md", f"# T\n\n{comment}\n```bash\nrm -rf data\n```\n", Forbidden())
    assert [str(p) for p in plan.problems][0].startswith("p.md:3: "), plan.problems
    assert "looks like an opsbook directive" in str(plan.problems[0])
    assert plan.problems[0].block_id == "p.md:4"  # the block it stands above is unclassified


def test_an_ordinary_comment_is_still_a_comment() -> None:
    plan = read_page("p.md", "<!-- operators: see below -->\n```bash\ntrue\n```\n", Forbidden())
    assert not plan.problems


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "-5", "0", "1e999"])
@pytest.mark.parametrize("key", ["timeout", "retry"])
def test_non_finite_or_non_positive_seconds_are_errors(key: str, value: str) -> None:
    plan = read_page("p.md", f"<!-- opsbook: {key}={value} -->\n```bash\ntrue\n```\n", Forbidden())
    assert any(f"{key}={value} is not a positive, finite number" in str(p)
               for p in plan.problems), plan.problems


def test_a_block_cannot_kill_the_harness_when_isolated(project_copy: Project) -> None:
    if current_engine().isolation != "rootless":
        pytest.fail("this machine runs blocks unisolated; run scripts/bootstrap (as root)")
    (project_copy.docs_dir / "k.md").write_text("# K\n\n" + bash("kill -9 $PPID"))
    done = subprocess.run(
        [sys.executable, "-m", "opsbook", "--project", str(project_copy.root),
         "test", "--no-sandbox", "k.md"],
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 1, done
    assert "Operation not permitted" in done.stdout, done.stdout


def test_a_block_that_kills_the_harness_leaves_no_current_looking_results(
    project_copy: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPSBOOK_ISOLATION", "none")  # isolated, a block cannot do this
    (project_copy.docs_dir / "k.md").write_text(
        "# K\n\n" + bash("echo fine") + "\n" + bash("kill -9 $PPID\necho after")
    )
    state = project_copy.state_dir
    state.mkdir()
    # what an earlier, complete run left: it must not survive looking current
    (state / "results.json").write_text(json.dumps({
        "commit": "old", "time": "2026-01-01T00:00:00+00:00", "state": "complete",
        "blocks": [{"page": "k.md", "line": 7, "lang": "bash", "status": "passed"}],
    }))
    tmp = project_copy.root / "tmp"
    tmp.mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "opsbook", "--project", str(project_copy.root),
         "test", "--no-sandbox", "k.md"],
        capture_output=True, text=True, timeout=60, env={**os.environ, "TMPDIR": str(tmp)},
    )
    assert done.returncode == -signal.SIGKILL, done
    data = json.loads((state / "results.json").read_text())
    assert data["state"] == "running" and data["commit"] != "old"
    assert [(b["line"], b["status"]) for b in data["blocks"]] == [(3, "passed")]
    # nothing could clean up after SIGKILL; the next run sweeps what the dead one left
    [abandoned] = tmp.glob("opsbook-run-*")
    again = subprocess.run(
        [sys.executable, "-m", "opsbook", "--project", str(project_copy.root),
         "test", "--no-sandbox", "index.md"],
        capture_output=True, text=True, timeout=60, env={**os.environ, "TMPDIR": str(tmp)},
    )
    assert again.returncode == 0, again.stdout + again.stderr
    assert not abandoned.exists()


def _opsbook_test(project: Project, page: str, tmp: Path) -> subprocess.Popen[str]:
    tmp.mkdir(exist_ok=True)
    tmp.chmod(0o711)  # the runner user must reach the run's temp dir inside it
    return subprocess.Popen(
        [sys.executable, "-m", "opsbook", "--project", str(project.root),
         "test", "--no-sandbox", page],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "TMPDIR": str(tmp)}, start_new_session=True,
    )


@pytest.mark.parametrize(
    ("stop", "group"),
    [([signal.SIGTERM], True), ([signal.SIGINT], True), ([signal.SIGINT, signal.SIGINT], True),
     ([signal.SIGINT], False), ([signal.SIGTERM], False)],
    ids=["sigterm", "sigint", "two-sigints", "sigint-to-pid", "sigterm-to-pid"],
)
def test_a_stopped_run_keeps_finished_blocks_and_leaves_nothing(
    project_copy: Project, request: pytest.FixtureRequest, stop: list[signal.Signals],
    group: bool,
) -> None:
    seconds = 700 + os.getpid() % 1000
    (project_copy.docs_dir / "s.md").write_text(
        "# S\n\n" + bash("echo first done") + "\n"
        + bash(f"setsid env -i sleep {seconds} &\nsleep {seconds}") + "\n" + bash("echo never")
    )
    tmp = Path(tempfile.mkdtemp(prefix="opsbook-test-"))  # reachable by the runner user
    request.addfinalizer(lambda: shutil.rmtree(tmp, ignore_errors=True))
    proc = _opsbook_test(project_copy, "s.md", tmp)
    results = project_copy.state_dir / "results.json"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(_sleepers(seconds)) < 2:
        time.sleep(0.1)
    assert len(_sleepers(seconds)) == 2, "the second block never started"
    for sig in stop:
        # a terminal's Ctrl-C reaches the whole foreground group; a CI runner may signal
        # the PID alone, and the block's processes must not outlive the run either way
        (os.killpg if group else os.kill)(proc.pid, sig)
        time.sleep(0.05)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, out
    assert "interrupted" in out
    data = json.loads(results.read_text())
    assert data["state"] == "interrupted"
    assert [(b["line"], b["status"]) for b in data["blocks"]] == [(3, "passed")]
    time.sleep(0.2)
    assert not _sleepers(seconds), "a block's process outlived the stopped run"
    assert not list(tmp.glob("opsbook-run-*")), "temp dir left behind"


def _sleepers(seconds: int) -> list[int]:
    found = []
    for p in Path("/proc").iterdir():
        try:
            if p.name.isdigit() and (p / "cmdline").read_bytes() == f"sleep\0{seconds}\0".encode():
                found.append(int(p.name))
        except OSError:
            continue
    return found


def test_processes_that_cleared_their_environment_are_killed_at_page_end() -> None:
    seconds = 1700 + os.getpid() % 1000
    page = bash(
        f"env -i sleep {seconds} &\nsetsid env -i sleep {seconds} &\n"
        f"(setsid env -i sh -c 'sleep {seconds} & exit' &)\nsleep 0.3"
    )
    res = run_page(page)
    assert res[1].status == "passed", res[1].message
    time.sleep(0.2)
    assert not _sleepers(seconds)


def test_huge_output_is_bounded_in_memory_and_results(tmp_path: Path) -> None:
    script = (
        "import json, resource\n"
        "from opsbook.harness.reading.plan import Plan, read_page\n"
        "from opsbook.harness.running.isolation import Forbidden\n"
        "from opsbook.harness.verify import verify\n"
        "page = read_page('big.md', '```bash\\nhead -c 300000000 /dev/zero | tr \"\\\\0\" x\\n"
        "echo end\\n```\\n', Forbidden())\n"
        "r = verify(Plan([page], Forbidden(), None)).blocks[0]\n"
        "print(json.dumps({'status': r.status, 'kept': len(r.output), 'tail': r.output[-40:],"
        " 'cut': 'bytes cut by opsbook' in r.output,"
        " 'peak_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "TMPDIR": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    print(f"300 MB printed: harness peak RSS {data['peak_mb']:.1f} MB, kept {data['kept']} chars")
    assert data["status"] == "passed" and data["cut"] and data["tail"].endswith("end\n")
    assert data["kept"] < 200_000
    assert data["peak_mb"] < 120, f"harness grew to {data['peak_mb']:.0f} MB"
