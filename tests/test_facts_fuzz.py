"""Malformed facts never crash: each one is `file:line: message`, exit status 1, no traceback.

Three kinds of case, each run on a copy of the project's facts:

* FILES: a whole bad file (tests/facts_fuzz/<name>) added as facts/fuzz.yml;
* EDITS: one change to one of the real facts files;
* GENERATED: inputs too big or too odd to check in (deep nesting, huge numbers, a
  directory or a symlink loop where a file should be).

Every case goes through `load_facts` in-process; CLI_CASES also go through
`python -m opsbook --project DIR facts check`, end to end.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from opsbook.facts import FactsError, load_facts, loader
from opsbook.project import Project

DATA = Path(__file__).parent / "facts_fuzz"
ADDED = "fuzz.yml"
NOT_UTF8 = "not valid UTF-8"
CONTROL = "YAML syntax error: unacceptable character"
TAG = "unknown YAML tag"
NOT_A_KEY = "a list or mapping cannot be a key"
EMPTY = "file is empty"
NOT_A_MAPPING = "a facts file must be a mapping of top-level keys"
BOMB = "aliases expand this file to more than"
TOO_DEEP = "nested more than 100 levels deep"
NOT_FINITE = "input should be a finite number"
METRIC = "threshold names become Prometheus metric and alert names"


@dataclass(frozen=True)
class Case:
    """A bad facts file: `target` (under facts/) made bad by `make`; the problem expected."""

    id: str
    target: str
    make: Callable[[Path], None]
    expect: str  # part of one problem's message
    line: int | None = None  # that problem's line, where the case pins it


# -- whole files (tests/facts_fuzz/*.yml, added as facts/fuzz.yml) -----------------------

FILES: dict[str, tuple[str, int | None]] = {
    # not UTF-8: the line of the first bad byte
    "binary_png.yml": (NOT_UTF8, 1),
    "gzip.yml": (NOT_UTF8, 1),
    "latin1_line2.yml": (NOT_UTF8 + " (byte 0xe9 at column 11)", 2),
    "utf16_bom.yml": (NOT_UTF8, 1),
    "cp1252_quotes_line3.yml": (NOT_UTF8, 3),
    "truncated_utf8.yml": (NOT_UTF8, 1),
    "overlong_utf8.yml": (NOT_UTF8, 1),
    "encoded_surrogate.yml": (NOT_UTF8, 1),
    # characters YAML refuses
    "nul_line2.yml": (CONTROL + " #x0000", 2),
    "nul_in_key.yml": (CONTROL + " #x0000", 1),
    "bell_line3.yml": (CONTROL + " #x0007", 3),
    "ansi_escape.yml": (CONTROL + " #x001b", 1),
    "delete_char.yml": (CONTROL + " #x007f", 1),
    "form_feed.yml": (CONTROL + " #x000c", 2),
    "c1_control.yml": (CONTROL, 1),
    "control_after_utf8_line4.yml": (CONTROL + " #x0001", 4),
    # tags: the ones that would run code, and ones nobody defines
    "python_apply.yml": (f"extra: {TAG} !!python/object/apply:os.system", 1),
    "python_name.yml": (f"extra: {TAG} !!python/name:os.system", 1),
    "python_new.yml": (f"extra: {TAG} !!python/object/new:subprocess.Popen", 1),
    "vault.yml": (f"extra.password: {TAG} !vault", 2),
    "include_tag.yml": (f"{TAG} !include", 1),
    "tag_on_list.yml": (f"{TAG} !ref", 1),
    "set_tag.yml": (f"{TAG} !!set", 1),
    "omap_tag.yml": (f"{TAG} !!omap", 1),
    "tag_directive.yml": (TAG, 3),
    # keys that are not strings
    "complex_key_list.yml": (NOT_A_KEY, 1),
    "complex_key_map.yml": (NOT_A_KEY, 1),
    "complex_key_flow.yml": (NOT_A_KEY, 1),
    "alias_list_as_key.yml": (NOT_A_KEY, 2),
    "null_key.yml": ('key ~ reads as null; keys are strings: write it in quotes: "~"', 1),
    "null_key_nested.yml": ("extra: key ~ reads as null", 2),
    "bool_key.yml": ("key yes reads as a boolean", 1),
    "int_key.yml": ("key 1 reads as an int", 1),
    "float_key.yml": ("key 1.5 reads as a float", 2),
    "date_key.yml": ("key 2024-01-01 reads as a date", 1),
    # nothing, or not a mapping
    "empty.yml": (EMPTY, 1),
    "comments_only.yml": (EMPTY, 1),
    "blank_lines.yml": (EMPTY, 1),
    "document_start_only.yml": (EMPTY, 1),
    "document_start_and_end.yml": (EMPTY, 1),
    "scalar_root.yml": (NOT_A_MAPPING, 1),
    "list_root.yml": (NOT_A_MAPPING, 1),
    "null_root.yml": (NOT_A_MAPPING, 1),
    "two_documents.yml": ("a second YAML document", 2),
    "yaml_2_directive.yml": ("YAML syntax error: found incompatible YAML document", 1),
    # syntax
    "unclosed_flow.yml": ("YAML syntax error", None),
    "tab_indent.yml": ("YAML syntax error", 2),
    "unterminated_quote.yml": ("YAML syntax error", None),
    "bad_indent.yml": ("YAML syntax error", 3),
    # aliases
    "undefined_alias.yml": ("extra: alias *nope has no anchor &nope before it", 1),
    "recursive_alias.yml": ("a value cannot contain itself", 1),
    "recursive_alias_map.yml": ("a value cannot contain itself", 1),
    "billion_laughs.yml": (BOMB, None),
    "billion_laughs_mappings.yml": (BOMB, None),
    "merge_bomb.yml": (BOMB, None),
    "merge_scalar.yml": ("`<<` merges mappings", 2),
}


def _copy_data(name: str) -> Callable[[Path], None]:
    return lambda target: shutil.copyfile(DATA / name, target)


# -- edits to the real facts files --------------------------------------------------------

EDITS: list[tuple[str, str, str, str, str]] = [
    # (id, file, old, new, expected) - the problem is on the first line `new` touches
    ("time-start", "deployment.yml", 'start: "10:00"', "start: 10:00",
     'deployment.windows.0.start: input should be a valid string, got int 600; '
     'YAML reads 10:00 as the number 600: write times in quotes: "10:00"'),
    ("time-end", "deployment.yml", 'end: "16:00"', "end: 16:00",
     'write times in quotes: "16:00"'),
    ("time-one-digit-hour", "deployment.yml", 'start: "10:00"', "start: 9:30",
     'YAML reads 9:30 as the number 570: write times in quotes: "9:30"'),
    ("time-with-seconds", "deployment.yml", 'end: "16:00"', "end: 16:00:00",
     'write times in quotes: "16:00:00"'),
    ("inf-warning", "thresholds.yml", "    warning: 2\n", "    warning: .inf\n",
     f"thresholds.error_rate.warning: {NOT_FINITE}, got inf"),
    ("nan-normal", "thresholds.yml", "    normal: 1\n", "    normal: .nan\n",
     f"thresholds.error_rate.normal: {NOT_FINITE}, got nan"),
    ("minus-inf-critical", "thresholds.yml", "    critical: 5\n", "    critical: -.inf\n",
     f"thresholds.error_rate.critical: {NOT_FINITE}"),
    ("nan-capitals", "thresholds.yml", "    warning: 2\n", "    warning: .NaN\n", NOT_FINITE),
    ("inf-from-overflow", "thresholds.yml", "    critical: 5\n", "    critical: 1.0e+999\n",
     NOT_FINITE),
    ("metric-name-dash", "thresholds.yml", "  error_rate:\n", "  error-rate:\n",
     f"thresholds.error-rate: {METRIC}"),
    ("metric-name-digit", "thresholds.yml", "  error_rate:\n", "  5xx_rate:\n", METRIC),
    ("metric-name-space", "thresholds.yml", "  error_rate:\n", '  "error rate":\n', METRIC),
    ("metric-name-unicode", "thresholds.yml", "  error_rate:\n", "  fehlerquote_ä:\n", METRIC),
    ("metric-name-empty", "thresholds.yml", "  error_rate:\n", '  "":\n', METRIC),
    ("metric-name-newline", "thresholds.yml", "  error_rate:\n", '  "error_rate\\n":\n',
     METRIC),
    ("port-10-pow-400", "services.yml", "port: 18001", "port: 1" + "0" * 400,
     "services.0.port: input should be less than or equal to 65535"),
    ("port-float-inf", "services.yml", "port: 18001", "port: 1.0e+400",
     "services.0.port: input should be a valid integer, got float inf"),
    ("container-port-negative-huge", "services.yml", "container_port: 8000",
     "container_port: -1" + "0" * 400, "greater than or equal to 1"),
    ("port-hex-too-big", "services.yml", "port: 18001", "port: 0x10000",
     "less than or equal to 65535, got 65536"),
    ("port-too-many-digits", "services.yml", "port: 18001", "port: " + "9" * 5000,
     "cannot read"),
    ("replicas-huge", "services.yml", "max_replicas: 4", "max_replicas: 1" + "0" * 30,
     "services.1.max_replicas: input should be less than or equal to 32"),
    ("version-bool", "deployment.yml", "current: v2", "current: no",
     'got bool False; write it in quotes: "no"'),
    ("version-float", "deployment.yml", "current: v2", "current: 1.10",
     'got float 1.1; write it in quotes: "1.10"'),
    ("bad-date", "backup.yml", "rpo: 6h", "rpo: 2024-13-45",
     "backup.rpo: cannot read '2024-13-45' as !!timestamp"),
    ("binary-tag", "backup.yml", "rpo: 6h", "rpo: !!binary aGVsbG8=",
     "backup.rpo: input should be a valid string, got bytes"),
    ("vault-in-list", "deployment.yml", "days: [Tue, Wed, Thu]",
     "days: [Tue, !vault x, Thu]", f"deployment.windows.0.days.1: {TAG} !vault"),
    ("python-tag-in-query", "thresholds.yml", "    query: histogram_quantile(0.95",
     "    query: !!python/name:os.system\n    q: histogram_quantile(0.95",
     f"thresholds.latency_p95.query: {TAG} !!python/name:os.system"),
    ("python-apply-on-map", "backup.yml", "  schedule:\n",
     "  schedule: !!python/object/apply:os.system\n",
     f"backup.schedule: {TAG} !!python/object/apply:os.system"),
    ("recursive-alias-real-key", "deployment.yml", "canary_steps: [5, 25, 50, 100]",
     "canary_steps: &steps [5, *steps]", "deployment.canary_steps.1: alias *steps is inside"),
    ("null-key-in-service", "services.yml", "  - name: api\n", "  - name: api\n    ~: x\n",
     "services.0: key ~ reads as null"),
    ("complex-key-in-backup", "backup.yml", "  rpo: 6h\n", "  rpo: 6h\n  ? [a]\n  : 1\n",
     f"backup: {NOT_A_KEY}"),
    ("bool-environment-name", "environments.yml", "  staging:\n", "  on:\n",
     "environments: key on reads as a boolean"),
    ("control-char-in-description", "thresholds.yml", "description: Share of API",
     "description: Share\x07 of API", CONTROL + " #x0007"),
    ("nul-in-existing-file", "backup.yml", "  rpo: 6h", "  rpo: 6h\x00", CONTROL + " #x0000"),
    ("escape-in-existing-file", "services.yml", "image: opsbook/api",
     "image: opsbook/\x1b[0mapi", CONTROL + " #x001b"),
    ("deep-flow-in-real-key", "deployment.yml", "canary_steps: [5, 25, 50, 100]",
     "canary_steps: " + "[" * 300 + "]" * 300, f"deployment.canary_steps.0.0.0.0.0.0.(...): "
     f"lists and mappings {TOO_DEEP}"),
    ("second-document", "backup.yml", "  rpo: 6h\n", "  rpo: 6h\n---\nmore: 1\n",
     "a second YAML document"),
    ("undefined-alias-real-key", "backup.yml", "rpo: 6h", "rpo: *six_hours",
     "backup.rpo: alias *six_hours has no anchor"),
    ("merge-of-list", "backup.yml", "  rpo: 6h\n", "  rpo: 6h\n  <<: [1, 2]\n",
     "backup: `<<` merges mappings"),
]

# Bytes that are not UTF-8 inside an otherwise good file: the line must be the bad one.
BYTE_EDITS: list[tuple[str, str, bytes, bytes]] = [
    ("latin1-in-description", "thresholds.yml", b"Share of API", b"Share of \xc4PI"),
    ("utf16-bom-prepended", "platform.yml", b"platform:", b"\xff\xfeplatform:"),
    ("lone-continuation-byte", "services.yml", b"image: opsbook/redis",
     b"image: opsbook/\x80redis"),
]


def _edit(old: str, new: str) -> Callable[[Path], None]:
    def make(target: Path) -> None:
        text = target.read_text(encoding="utf-8")
        assert old in text, f"{old!r} not in {target}: the case is stale"
        target.write_text(text.replace(old, new, 1), encoding="utf-8")

    return make


def _edit_bytes(old: bytes, new: bytes) -> Callable[[Path], None]:
    def make(target: Path) -> None:
        data = target.read_bytes()
        assert old in data, f"{old!r} not in {target}: the case is stale"
        target.write_bytes(data.replace(old, new, 1))

    return make


def _line_of(path: Path, needle: str | bytes) -> int:
    data = path.read_bytes()
    raw = needle.encode() if isinstance(needle, str) else needle
    return data.count(b"\n", 0, data.index(raw)) + 1


# -- generated --------------------------------------------------------------------------


def _write(data: bytes) -> Callable[[Path], None]:
    return lambda target: target.write_bytes(data)


def _directory(target: Path) -> None:
    target.mkdir()
    (target / "inside.yml").write_text("extra: 1\n")


def _symlink_loop(target: Path) -> None:
    target.symlink_to(target.name)


def _symlink_pair_loop(target: Path) -> None:
    target.symlink_to("other.link")
    (target.parent / "other.link").symlink_to(target.name)


def _broken_symlink(target: Path) -> None:
    target.symlink_to("missing.yml")


def _symlink_to_directory(target: Path) -> None:
    (target.parent / "somewhere").mkdir()
    target.symlink_to("somewhere")


def _fifo(target: Path) -> None:
    os.mkfifo(target)


GENERATED = [
    Case("deep-flow-10000", ADDED, _write(b"extra: " + b"[" * 10_000 + b"]" * 10_000 + b"\n"),
         TOO_DEEP, 1),
    Case("deep-flow-unclosed", ADDED, _write(b"extra: " + b"[" * 10_000 + b"\n"), TOO_DEEP, 1),
    Case("deep-flow-200000", ADDED, _write(b"[" * 200_000), TOO_DEEP, 1),
    Case("deep-flow-mappings", ADDED, _write(b"extra: " + b"{a: " * 5_000 + b"1" + b"}" * 5_000),
         TOO_DEEP, 1),
    Case("deep-block-sequence", ADDED, _write(b"- " * 50_000 + b"x\n"), TOO_DEEP, 1),
    Case("deep-block-mappings", ADDED,
         _write(b"".join(b" " * i + b"k:\n" for i in range(150)) + b" " * 150 + b"k: 1\n"),
         TOO_DEEP, 101),
    Case("long-string", ADDED, _write(b"extra: " + b"x" * 1_000_000 + b"\n"), "extra: unknown key",
         1),
    Case("many-problems-one-file", ADDED,
         _write(b"".join(b"k%d: !t%d x\n" % (i, i) for i in range(200))), TAG, 200),
    Case("directory", ADDED, _directory, "is a directory, not a facts file", 1),
    Case("directory-yaml", "fuzz.yaml", _directory, "is a directory", 1),
    Case("symlink-to-itself", ADDED, _symlink_loop, "Too many levels of symbolic links", 1),
    Case("symlink-pair-loop", ADDED, _symlink_pair_loop, "Too many levels of symbolic links", 1),
    Case("broken-symlink", ADDED, _broken_symlink, "cannot read the file", 1),
    Case("symlink-to-directory", ADDED, _symlink_to_directory, "is a directory", 1),
    Case("fifo", ADDED, _fifo, "not a regular file", 1),
]

CASES: list[Case] = [
    *(Case(f"file-{name.removesuffix('.yml')}", ADDED, _copy_data(name), expect, line)
      for name, (expect, line) in FILES.items()),
    *(Case(id_, file, _edit(old, new), expect) for id_, file, old, new, expect in EDITS),
    *(Case(id_, file, _edit_bytes(old, new), "not valid UTF-8")
      for id_, file, old, new in BYTE_EDITS),
    *GENERATED,
]
# Line where an edit's problem must be: where its new text starts.
EDIT_NEEDLES: dict[str, str | bytes] = {
    **{id_: new.split("\n")[0] or new.split("\n")[1] for id_, _, _, new, _ in EDITS},
    **{id_: new for id_, _, _, new in BYTE_EDITS},
}
# Edits whose problem is reported on another line than the edit's first one.
EDIT_LINE_ELSEWHERE = {
    "python-tag-in-query",  # the whole entry's `query` line, which the edit keeps
    "second-document",  # the `---` line
    "complex-key-in-backup",  # the `?` line
    "null-key-in-service",  # the added `~: x` line
    "merge-of-list",  # the `<<` line
}

# The end-to-end subset: one or more of every kind, through the real CLI.
CLI_CASES = [
    "file-binary_png", "file-latin1_line2", "file-nul_line2", "file-python_apply",
    "file-vault", "file-complex_key_list", "file-null_key", "file-empty", "file-comments_only",
    "file-billion_laughs", "time-start", "inf-warning", "nan-normal", "metric-name-dash",
    "port-10-pow-400", "deep-flow-10000", "directory", "symlink-to-itself",
]


def test_every_data_file_is_a_case() -> None:
    assert sorted(p.name for p in DATA.iterdir()) == sorted(FILES)
    assert len(CASES) >= 80
    assert len({c.id for c in CASES}) == len(CASES)
    assert set(CLI_CASES) <= {c.id for c in CASES}


@pytest.fixture
def facts_copy(tmp_path: Path) -> Path:
    """Only the facts: load_facts needs nothing else, and copying less keeps this fast."""
    target = tmp_path / "project" / "facts"
    shutil.copytree(Path(__file__).resolve().parents[1] / "facts", target)
    return target


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_bad_facts_are_reported_with_file_and_line(case: Case, facts_copy: Path) -> None:
    target = facts_copy / case.target
    case.make(target)
    problems = _problems(facts_copy)

    text = "\n".join(problems)
    assert "Traceback" not in text
    assert all("\n" not in p for p in problems), problems
    prefix = re.escape(os.path.relpath(target)) + r":(\d+): "
    for problem in problems:
        assert re.match(prefix, problem), f"{problem!r} does not name {target}"
    matching = [p for p in problems if case.expect in p]
    assert matching, f"no problem says {case.expect!r}:\n{text}"
    line = _expected_line(case, target)
    if line is not None:
        lines = [int(re.match(prefix, p)[1]) for p in matching]
        assert line in lines, f"expected line {line}:\n{text}"


def test_alias_bomb_fails_fast(facts_copy: Path) -> None:
    shutil.copyfile(DATA / "billion_laughs.yml", facts_copy / ADDED)
    start = time.perf_counter()
    problems = _problems(facts_copy)
    elapsed = time.perf_counter() - start
    assert elapsed < 2, f"alias bomb took {elapsed:.2f} s"
    [problem] = problems
    assert BOMB in problem


def test_alias_bomb_fails_fast_end_to_end(project_copy: Project) -> None:
    shutil.copyfile(DATA / "billion_laughs.yml", project_copy.facts_dir / ADDED)
    start = time.perf_counter()
    result = _check(project_copy)
    elapsed = time.perf_counter() - start
    assert result.returncode == 1 and BOMB in result.stderr
    assert elapsed < 2, f"`facts check` on an alias bomb took {elapsed:.2f} s"


def test_aliases_within_the_limit_still_work(facts_copy: Path) -> None:
    backup = facts_copy / "backup.yml"
    text = backup.read_text(encoding="utf-8")
    backup.write_text(text.replace("  rpo: 6h", "  rpo: &six 6h\n  x_rpo: *six", 1),
                      encoding="utf-8")
    [problem] = _problems(facts_copy)  # the alias works; only the unknown key is reported
    assert "backup.x_rpo: unknown key" in problem


def test_merge_keys_still_work(facts_copy: Path) -> None:
    envs = facts_copy / "environments.yml"
    text = envs.read_text(encoding="utf-8")
    text = text.replace("  staging:\n", "  staging: &staging\n", 1)
    text += "  qa:\n    <<: *staging\n    description: QA, a copy of staging\n"
    envs.write_text(text, encoding="utf-8")
    facts = load_facts(facts_copy)
    assert facts.environments["qa"].api_url == facts.environments["staging"].api_url
    assert facts.environments["qa"].description == "QA, a copy of staging"


def test_quoted_times_and_finite_numbers_are_fine(facts_copy: Path) -> None:
    facts = load_facts(facts_copy)
    assert facts.deployment.windows[0].start == "10:00"
    assert all(t.critical < float("inf") for t in facts.thresholds.values())


@pytest.mark.parametrize(
    "case_id", [*CLI_CASES, "file-control_after_utf8_line4", "file-merge_bomb", "deep-flow-200000"]
)
def test_same_reports_without_libyaml(
    case_id: str, facts_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PyYAML's pure-Python parser (no libyaml) reports the same problems at the same lines."""
    case = next(c for c in CASES if c.id == case_id)
    case.make(facts_copy / case.target)
    with_libyaml = _problems(facts_copy)
    monkeypatch.setattr(loader, "_Loader", yaml.SafeLoader)
    monkeypatch.setattr(loader, "_BYTE_OFFSETS", False)
    assert _problems(facts_copy) == with_libyaml


@pytest.mark.parametrize("case_id", CLI_CASES)
def test_cli_check_reports_without_traceback(case_id: str, project_copy: Project) -> None:
    case = next(c for c in CASES if c.id == case_id)
    target = project_copy.facts_dir / case.target
    case.make(target)
    result = _check(project_copy)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "Traceback" not in output
    lines = result.stderr.splitlines()
    assert lines and all(line.startswith("error: ") for line in lines), output
    name = re.escape(f"facts/{case.target}")
    assert all(re.match(rf"^error: {name}:\d+: ", line) for line in lines), output
    assert case.expect in result.stderr


def _problems(facts_dir: Path) -> list[str]:
    with pytest.raises(FactsError) as info:
        load_facts(facts_dir)
    assert info.value.problems
    return info.value.problems


def _expected_line(case: Case, target: Path) -> int | None:
    if case.line is not None or case.id not in EDIT_NEEDLES:
        return case.line
    if case.id in EDIT_LINE_ELSEWHERE:
        return None
    return _line_of(target, EDIT_NEEDLES[case.id])


def _check(project: Project) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "opsbook", "--project", str(project.root), "facts", "check"],
        capture_output=True, text=True, timeout=60, cwd=project.root,
    )
