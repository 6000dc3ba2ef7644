"""Pages read before: a page whose rendered text and reading context are unchanged is not
extracted and classified again (`.opsbook/plan-cache.pickle`).

A page's plan (`read_page`) depends on nothing but
- its text as the site shows it (rendered: facts, snippets and includes already in it),
- how the site reads Markdown: mkdocs.yml's extensions and their options (a fence
  validator named with `!!python/name:` by its module's source), which of them load here,
- what blocks must not name (the facts' remote URLs, hosts and kube contexts) and the
  fault ids scenarios may use,
- whether the page is adopted, the backend (compose or kind), and opsbook's own code.
The entry's key digests all of them; anything else changed is a miss. What `plan_pages`
checks across pages (runbook links) is checked again on every run, never cached.
"""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Collection
from dataclasses import replace

from opsbook import cache as disk
from opsbook.harness.model import PagePlan
from opsbook.harness.reading.site_markdown import SiteMarkdown
from opsbook.harness.running.isolation import Forbidden
from opsbook.project import Project


class PlanCache:
    def __init__(self, project: Project, forbidden: Forbidden,
                 faults: Collection[str] | None, backend: str) -> None:
        self.store = disk.DiskCache(project.state_dir / "plan-cache.pickle")
        self.backend = backend
        self._base = disk.digest(
            disk.code_digest(), backend, repr(forbidden.needles),
            repr(sorted(faults) if faults is not None else None),
        )
        self._sites: dict[int, str] = {}

    def _site_key(self, site: SiteMarkdown) -> str:
        key = self._sites.get(id(site))
        if key is None:
            key = self._sites[id(site)] = disk.digest(
                disk.stable_json([site.site.extensions, site.site.configs]),
                repr(site.missing),
                # the extensions' own code (one installed from elsewhere, upgraded)
                disk.stable_json([type(e) for e in site.md.registeredExtensions]),
            )
        return key

    def _key(self, page: str, text: str, site: SiteMarkdown, adopted: bool) -> str:
        return disk.digest(self._base, self._site_key(site), page, str(adopted),
                           hashlib.sha256(text.encode()).hexdigest())

    def get(self, page: str, text: str, site: SiteMarkdown, adopted: bool) -> PagePlan | None:
        if not self.store.enabled:
            return None
        payload = self.store.get(f"{page}\0{self.backend}", self._key(page, text, site, adopted))
        if payload is None:
            return None
        try:
            plan = pickle.loads(payload)  # noqa: S301 - our own file, keyed by its inputs
        except Exception:  # noqa: BLE001 - a damaged entry is a miss
            return None
        if not isinstance(plan, PagePlan) or plan.page != page:
            return None
        return replace(plan, text=text)

    def flush(self) -> None:
        self.store.flush()

    def put(self, plan: PagePlan, site: SiteMarkdown) -> None:
        if not self.store.enabled:
            return
        # the text is the lookup's own input: not stored twice
        payload = pickle.dumps(replace(plan, text=""), protocol=pickle.HIGHEST_PROTOCOL)
        self.store.put(f"{plan.page}\0{self.backend}",
                       self._key(plan.page, plan.text, site, plan.adopted), payload)
