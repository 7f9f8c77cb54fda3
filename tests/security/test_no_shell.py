"""No host shell is ever handed a string: a lint over the source tree's AST.

pouchsh runs host programs (CNI plugins, ``^program``, the logger, containerd) with argument lists only.
A shell would re-split and expand user strings (container names, labels, paths), the injection class of
CVE-2022-0811. This walks every module of the four packages and the benchmarks and fails on
``shell=True``, ``os.system``, ``os.popen``, ``subprocess.getoutput``/``getstatusoutput`` and on an
argument list that starts with a shell and ``-c``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("grammar", "pouchsh", "managers", "ctrd", "bench")
FORBIDDEN_CALLS = {
    ("os", "system"), ("os", "popen"), ("subprocess", "getoutput"), ("subprocess", "getstatusoutput"),
    ("os", "execl"), ("os", "execlp"),  # only ever used to exec "sh -c ..." style strings
}
SHELLS = {"sh", "bash", "dash", "zsh", "/bin/sh", "/bin/bash", "/usr/bin/sh", "/usr/bin/bash"}


def sources() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (REPO / pkg).rglob("*.py") if "/api/" not in str(p))


def _dotted(node: ast.AST) -> tuple[str, ...]:
    if isinstance(node, ast.Attribute):
        return (*_dotted(node.value), node.attr)
    if isinstance(node, ast.Name):
        return (node.id,)
    return ()


def violations(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    # `from os import system` then `system(...)`: remember such imported names.
    imported = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module in ("os", "subprocess"):
            for alias in node.names:
                imported[alias.asname or alias.name] = (node.module, alias.name)
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = _dotted(node.func)
        target = name[-2:] if len(name) >= 2 else imported.get(name[0]) if name else None
        if target in FORBIDDEN_CALLS:
            found.append((node.lineno, ".".join(target)))
        for kw in node.keywords:
            if kw.arg == "shell" and not (isinstance(kw.value, ast.Constant) and kw.value.value is False):
                found.append((node.lineno, "shell=True"))
        if node.args and isinstance(node.args[0], (ast.List, ast.Tuple)):
            elts = node.args[0].elts
            if (
                len(elts) >= 2
                and isinstance(elts[0], ast.Constant) and elts[0].value in SHELLS
                and isinstance(elts[1], ast.Constant) and elts[1].value == "-c"
            ):
                found.append((node.lineno, f"{elts[0].value} -c"))
    return found


@pytest.mark.parametrize("path", sources(), ids=lambda p: str(p.relative_to(REPO)))
def test_no_shell_in(path: Path) -> None:
    tree = ast.parse(path.read_text(), str(path))
    assert violations(tree) == [], f"{path.relative_to(REPO)} hands a string to a host shell"


@pytest.mark.parametrize(
    "code",
    [
        "import subprocess\nsubprocess.run('ls ' + name, shell=True)",
        "import subprocess\nsubprocess.Popen(cmd, shell=flag)",
        "import os\nos.system('rm -rf ' + path)",
        "import os\nos.popen(cmd)",
        "from os import system\nsystem(cmd)",
        "from subprocess import getoutput as go\ngo(cmd)",
        "import subprocess\nsubprocess.check_call(['sh', '-c', cmd])",
        "import subprocess\nsubprocess.run(('/bin/bash', '-c', cmd))",
    ],
)
def test_the_lint_catches(code: str) -> None:
    assert violations(ast.parse(code))


def test_the_lint_allows_argument_lists() -> None:
    code = "import subprocess\nsubprocess.run(['ctr', '-n', ns, 'c', 'ls'], shell=False)\nsubprocess.run([exe, '--config', p])"
    assert violations(ast.parse(code)) == []
