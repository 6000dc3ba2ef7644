"""Contacts and escalation facts: the roles and steps pages show where an incident starts."""

from __future__ import annotations

from opsbook.facts import load_facts
from opsbook.project import Project
from tests.helpers import replace_in
from tests.test_facts import problems_for


def test_repository_contacts_load(repo_project: Project) -> None:
    contacts = load_facts(repo_project.facts_dir).contacts
    assert contacts.role("incident-commander").name == "Incident commander"
    assert contacts.escalation[0].after == "0m"


def test_escalation_times_must_rise(project_copy: Project) -> None:
    path = project_copy.facts_dir / "contacts.yml"
    replace_in(path, "after: 15m", "after: 5m")
    [problem] = problems_for(project_copy.facts_dir)
    # the second "after: 5m", now the third step's
    line = [n for n, text in enumerate(path.read_text().splitlines(), 1) if "after: 5m" in text][1]
    assert f"contacts.yml:{line}: contacts.escalation.2.after: " in problem
    assert "times must rise" in problem


def test_a_channel_is_a_channel_name_not_a_url(project_copy: Project) -> None:
    path = project_copy.facts_dir / "contacts.yml"
    replace_in(path, '"#opsbook-platform"', "https://chat.opsbook.example/platform")
    [problem] = problems_for(project_copy.facts_dir)
    assert "contacts.channels.team" in problem
