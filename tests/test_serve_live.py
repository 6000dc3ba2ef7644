"""Live verification: under a real `mkdocs serve` with `live: true`, saving a page runs its
blocks again and the served page shows the new badges, with no restart."""

from __future__ import annotations

import re
from pathlib import Path

from opsbook.project import Project
from tests.helpers import replace_in
from tests.test_serve import fetch, serving, wait_for

BLOCKS = 10


def page(word: str) -> str:
    body = "".join(f"```bash\necho {word} {i}\n```\n\n" for i in range(BLOCKS))
    return f"# Live\n\n{body}"


def test_a_saved_page_is_verified_again_and_its_badges_change(
    project_copy: Project, tmp_path: Path
) -> None:
    mkdocs_yml = project_copy.root / "mkdocs.yml"
    replace_in(mkdocs_yml, "  - opsbook\n", "  - opsbook:\n      live: true\n")
    docs = project_copy.docs_dir
    (docs / "access.md").write_text(page("first"))
    log = tmp_path / "serve.log"
    with serving(project_copy, log) as base:
        url = f"{base}/access/"
        first = wait_for(lambda: fetch(url), 90, "the first build", log)
        assert "✔ verified" not in first  # never run: no claim

        (docs / "access.md").write_text(page("second"))

        def verified() -> str | None:
            text = fetch(url)
            # (highlighting splits `echo second 9` into tokens: look for the words)
            if (text and "second" in text and "first" not in text
                    and len(re.findall("✔ verified", text)) == BLOCKS):
                return text
            return None

        wait_for(verified, 120, "ten verified badges on the edited page", log)
        assert "running its blocks against the sandbox" in log.read_text()
        data = (project_copy.state_dir / "results.json").read_text()
        assert '"page": "access.md"' in data
