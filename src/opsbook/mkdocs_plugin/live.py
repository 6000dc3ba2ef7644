"""Live verification under `mkdocs serve`: a page an author saves is run again at once.

    build: page rendered --(its text differs from the last build's)--> LiveRunner.changed
    LiveRunner: `opsbook test --no-sandbox --results .opsbook/live/PAGE.json PAGE`
                (a subprocess: the build never waits for it)
    run done:   merged into .opsbook/results.json (and the page store); a file in
                .opsbook/live-done/ (the folder the server watches) is rewritten, so
                mkdocs rebuilds and the page shows its new badges

A subprocess, not a thread: the harness installs signal handlers and kills process groups,
which belong to a process's main thread; and a crash of a run must not take the preview
server with it. It runs against the sandbox that is already up (`--no-sandbox`): bringing
one up per save would take longer than the edit.
"""

from __future__ import annotations

import hashlib
import logging
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import quote

from opsbook.harness.model import SHELL_LANGS, Block
from opsbook.harness.reporting import results as results_file
from opsbook.harness.reporting import store
from opsbook.project import Project

log = logging.getLogger("mkdocs.plugins.opsbook")
RUN_TIMEOUT = 1800  # seconds; the harness times out each block itself
DONE = "live-done"  # under the state dir: watched by the server; nothing else writes there


class LiveRunner:
    def __init__(self, project: Project) -> None:
        self.project = project
        self.seen: dict[str, str] = {}  # page -> digest of its text at the last build
        self.running: dict[str, subprocess.Popen[str]] = {}
        self.again: set[str] = set()  # saved again while its run was going
        self.lock = threading.Lock()

    def built(self, page: str, blocks: list[Block]) -> None:
        """Called for every page of every build with its blocks as the site reads them;
        runs the page if they changed.

        Blocks (with their directives), not the whole text: prose edits need no new run,
        and a page that shows results (the coverage page) would otherwise run again after
        every run, each run changing it."""
        if not any(b.lang in SHELL_LANGS for b in blocks):
            return
        digest = hashlib.sha256(
            "\n".join(f"{b.digest}:{b.directives}" for b in blocks).encode()
        ).hexdigest()
        previous = self.seen.get(page)
        self.seen[page] = digest
        if previous is None or previous == digest:
            return  # the first build shows what is there; a rebuild of the same text is not an edit
        with self.lock:
            if page in self.running:
                self.again.add(page)
                return
            self._start(page)

    def _start(self, page: str) -> None:
        out = self.project.state_dir / "live" / (quote(page, safe="") + ".json")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.unlink(missing_ok=True)
        log.info("opsbook: %s changed; running its blocks against the sandbox", page)
        proc = subprocess.Popen(
            [sys.executable, "-m", "opsbook", "--project", str(self.project.root), "test",
             "--no-sandbox", "--results", str(out), page],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True,  # Ctrl-C on the server stops the server, not the run
        )  # fmt: skip
        self.running[page] = proc
        threading.Thread(target=self._finish, args=(page, proc, out), daemon=True).start()

    def _finish(self, page: str, proc: subprocess.Popen[str], out: Path) -> None:
        try:
            output, _ = proc.communicate(timeout=RUN_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            output, _ = proc.communicate()
        try:
            if out.is_file():
                self._merge(out)
                log.info("opsbook: %s verified (exit %s)", page, proc.returncode)
            else:
                tail = " | ".join(output.strip().splitlines()[-3:])
                log.warning("opsbook: %s could not be run: %s", page, tail)
        finally:
            with self.lock:
                self.running.pop(page, None)
                if page in self.again:
                    self.again.discard(page)
                    self._start(page)

    def _merge(self, out: Path) -> None:
        merged, _ = store.fold_in(results_file.read_file(out), self.project.state_dir)
        # results.json is replaced by a rename, which the server's watch does not report
        # as a change of that file; this write in a watched folder starts the rebuild
        (self.done_dir / "last").write_text(merged.time + "\n")

    @property
    def done_dir(self) -> Path:
        folder = self.project.state_dir / DONE
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def stop(self) -> None:
        with self.lock:
            for proc in self.running.values():
                if proc.poll() is None:
                    proc.terminate()
