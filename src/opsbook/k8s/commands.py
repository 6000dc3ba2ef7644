"""Every kubectl command on the pages, checked without a cluster.

Two checks, each able to fail:

- kubectl parses it: the command runs against `kubectl.offline()`, a kubeconfig whose
  server is a port nothing listens on. kubectl's own parser rejects an unknown
  subcommand, an unknown or misspelled flag, a flag value of the wrong type (`--timeout=5q`,
  `--replicas=three`) or a missing required flag before it calls the server; a command
  that gets as far as calling the server has parsed. `kubectl config` commands run for
  real against the throwaway kubeconfig, whose contexts are the facts' kube contexts.
- it names what the manifests define: its namespace, each `deployment/NAME`, the
  container of `set image`, the labels of `-l`.

The commands come from the rendered pages through the harness's own reading (the same
blocks the site shows, includes expanded), so a page and this check cannot disagree.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from opsbook.harness.deciding.classify import console_commands
from opsbook.harness.model import Block, PagePlan
from opsbook.k8s import kubectl

CONTROL = {"|", "||", "&&", ";", "&", "(", ")"}
# the shell's, not kubectl's: each takes the next word (a file) with it
REDIRECTS = {"<", ">", ">>", "<<", "<<<", ">|", "&>"}
WORKLOAD_KINDS = {"deployment": "Deployment", "deploy": "Deployment",
                  "deployments": "Deployment", "statefulset": "StatefulSet",
                  "sts": "StatefulSet", "statefulsets": "StatefulSet"}


@dataclass(frozen=True)
class KubectlCommand:
    page: str
    line: int  # page line the command is on
    text: str  # the command as the page shows it, from `kubectl` to its end
    args: tuple[str, ...]  # what follows `kubectl`
    tab: str  # the content tab it sits in ("" outside tabs)

    def __str__(self) -> str:
        return f"{self.page}:{self.line}"


def _logical_lines(text: str, first_line: int) -> Iterable[tuple[int, str]]:
    """(page line, command) for each line of shell, `\\` continuations joined."""
    pending: list[str] = []
    start = first_line
    for offset, raw in enumerate(text.split("\n")):
        if not pending:
            start = first_line + offset
        line = raw.rstrip()
        if line.endswith("\\"):
            pending.append(line[:-1])
            continue
        pending.append(line)
        yield start, " ".join(pending)
        pending = []
    if pending:
        yield start, " ".join(pending)


def _block_commands(block: Block) -> Iterable[tuple[int, str]]:
    """A console block's commands as the harness reads them (`$ ` prompts, `> `
    continuations, output left out); a script block line by line."""
    if block.lang == "console":
        for command in console_commands(block, []):
            yield from _logical_lines(command.text, command.line)
    else:
        yield from _logical_lines(block.body, block.line + 1)


def _segments(command: str) -> list[list[str]]:
    """Simple commands of a shell line, split at |, &&, ; ... (quotes respected)."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = "#"
    segments: list[list[str]] = [[]]
    skip_target = False
    for token in lexer:
        if skip_target:
            skip_target = False
        elif token in REDIRECTS or (token[:-1].isdigit() and token[-1:] in "<>"):
            skip_target = True  # `< "$BACKUP"`, `2> err`: the shell's business
        elif token in CONTROL:
            segments.append([])
        else:
            segments[-1].append(token)
    return [s for s in segments if s]


_VARIABLE = re.compile(r"\$(?:\{\w+\}|\w+)")


def _value_stand_in(word: str) -> str:
    """`--from-literal=password=$NEW` -> `--from-literal=password=VALUE`: a variable in a
    flag's value changes what kubectl sends, not whether it parses. A variable anywhere
    else (a resource name, a flag name) stays, and the command is reported."""
    if word.startswith("--") and "=" in word and "`" not in word and "$(" not in word:
        name, _, value = word.partition("=")
        return f"{name}={_VARIABLE.sub('VALUE', value)}"
    return word


def _kubectls_own(words: list[str]) -> list[str]:
    """The words kubectl itself parses: after `--` comes the container's command
    (`exec ... -- psql ...`), which kubectl passes on unread."""
    return words[: words.index("--")] if "--" in words else words


def commands_on(pages: Sequence[PagePlan]) -> tuple[list[KubectlCommand], list[str]]:
    """Every kubectl command in the pages' shell blocks, and one problem per command
    that cannot be checked offline (a shell expansion in its arguments)."""
    found: list[KubectlCommand] = []
    problems: list[str] = []
    for page in pages:
        for block, _ in page.shell:
            if "kubectl" not in block.body:
                continue
            for line, text in _block_commands(block):
                try:
                    segments = _segments(text)
                except ValueError as exc:
                    problems.append(f"{block.page}:{line}: cannot split `{text}`: {exc}")
                    continue
                for words in segments:
                    if words[0] != "kubectl":
                        continue
                    shown = " ".join(shlex.quote(w) for w in words)
                    words = [_value_stand_in(w) for w in words]
                    if any("$" in w or "`" in w for w in _kubectls_own(words)):
                        problems.append(f"{block.page}:{line}: `{shown}`: a shell expansion "
                                        "in a kubectl command cannot be checked offline")
                        continue
                    tab = block.tabs[-1] if block.tabs else ""
                    found.append(KubectlCommand(block.page, line, shown, tuple(words[1:]), tab))
    return found, problems


def parse_problem(cmd: KubectlCommand, cfg: kubectl.Offline) -> str | None:
    """None when kubectl accepts the command (it ran, or got as far as the server)."""
    done = kubectl.run([*cmd.args, "--request-timeout=2s"], cfg.env(), timeout=30)
    if done.returncode == 0:
        return None
    output = done.stderr + done.stdout
    if f"127.0.0.1:{cfg.port}" in output and "refused" in output:
        return None  # parsed, then needed the cluster
    if "no objects passed to" in output and _reads_stdin(cmd.args):
        return None  # parsed, then found its stdin (the pipe before it on the page) empty
    detail = next((ln for ln in output.splitlines() if ln.strip()), f"exit {done.returncode}")
    return f"{cmd}: `kubectl {cmd.text[len('kubectl '):]}`: {detail.strip()}"


def _reads_stdin(args: Sequence[str]) -> bool:
    pairs = zip(args, args[1:], strict=False)
    return "--filename=-" in args or any(
        a in ("-f", "--filename") and b == "-" for a, b in pairs
    )


def parse_problems(commands: Sequence[KubectlCommand], contexts: Sequence[str]) -> list[str]:
    with kubectl.offline(contexts) as cfg:
        return [p for cmd in commands if (p := parse_problem(cmd, cfg)) is not None]


def _options(args: Sequence[str]) -> tuple[dict[str, str], list[str]]:
    """-n/--namespace and -l/--selector values, and the positional words."""
    values: dict[str, str] = {}
    positional: list[str] = []
    names = {"-n": "namespace", "--namespace": "namespace", "-l": "selector",
             "--selector": "selector"}
    i = 0
    while i < len(args):
        word = args[i]
        key, eq, value = word.partition("=")
        if key in names:
            if eq:
                values[names[key]] = value
            elif i + 1 < len(args):
                values[names[key]] = args[i + 1]
                i += 1
        elif not word.startswith("-"):
            positional.append(word)
        i += 1
    return values, positional


def name_problems(cmd: KubectlCommand, objects: Sequence[dict[str, Any]]) -> list[str]:
    """What the command names that the manifests do not define."""
    options, positional = _options(cmd.args)
    found: list[str] = []
    namespaces = {o["metadata"]["name"] for o in objects if o.get("kind") == "Namespace"}
    workloads = {(o["kind"], o["metadata"]["name"]): o for o in objects
                 if o.get("kind") in ("Deployment", "StatefulSet")}
    if "namespace" in options and options["namespace"] not in namespaces:
        found.append(f"{cmd}: namespace {options['namespace']!r} is not in the manifests "
                     f"({', '.join(sorted(namespaces))})")
    targets = []
    for word in positional:
        kind, slash, name = word.partition("/")
        if slash and kind.lower() in WORKLOAD_KINDS:
            key = (WORKLOAD_KINDS[kind.lower()], name)
            if key in workloads:
                targets.append(workloads[key])
            else:
                found.append(f"{cmd}: {word}: no {key[0]} named {name!r} in the manifests")
    if positional[:2] == ["set", "image"]:
        for word in positional[2:]:
            container, eq, _ = word.partition("=")
            if not eq:
                continue
            for target in targets:
                names = [c["name"] for c in target["spec"]["template"]["spec"]["containers"]]
                if container != "*" and container not in names:
                    found.append(f"{cmd}: {target['kind']} {target['metadata']['name']} has "
                                 f"no container {container!r} ({', '.join(names)})")
    if "selector" in options:
        wanted = dict(p.split("=", 1) for p in options["selector"].split(",") if "=" in p)
        pods = [w["spec"]["template"]["metadata"].get("labels", {}) for w in workloads.values()]
        if not any(all(lbl.get(k) == v for k, v in wanted.items()) for lbl in pods):
            found.append(f"{cmd}: -l {options['selector']} selects no pod of the manifests")
    return found
