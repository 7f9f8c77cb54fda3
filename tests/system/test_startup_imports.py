"""What a fresh ``pouchsh -c version`` imports: only what asking containerd its version needs.

Each module below was imported on that path once and cost start-up time (docs/PERFORMANCE.md, start-up);
an import added back at module level somewhere makes this fail, naming who imported it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

#: module → why `version` must not need it.
NOT_ON_THE_VERSION_PATH = {
    "lark": "the parser is the generated grammar/_lark.py; the lark package only generates it",
    "prompt_toolkit": "the REPL's UI",
    "rich": "the REPL's UI",
    "pygments": "the REPL's UI",
    "importlib.metadata": "the version is the constant ctrd.__version__",
    "pathlib": "(with urllib.parse, ipaddress) a running containerd is reached without paths",
    "shutil": "(with bz2, lzma) only starting the embedded containerd looks for its binary",
    "json": "the records' label decoding, for commands that list containers",
    "tempfile": "the volume store's atomic writes",
    "getpass": "an interactive `login` only",
    "managers.options": "the create/run flags",
    "managers.records": "container records",
    "managers.store": "the JSON stores",
    "ctrd.owner": "lease owner labels: `version` takes no lease",
    "ctrd.api.services.containers.v1.containers_pb2": "stubs load with their service",
    "ctrd.api.services.tasks.v1.tasks_pb2": "stubs load with their service",
}


def imported_by(argv: list[str], env: dict[str, str]) -> dict[str, str]:
    """Every module a run of ``python -X importtime ARGV`` imports → the module that imported it first."""
    proc = subprocess.run([sys.executable, "-X", "importtime", *argv], capture_output=True, text=True, env=env,
                          cwd=REPO, stdin=subprocess.DEVNULL, timeout=60, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    # importtime prints a module after its imports, indented one level deeper than the importer.
    rows = []
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and "|" in line and "cumulative" not in line:
            name = line.rsplit("|", 1)[1]
            rows.append(((len(name) - len(name.lstrip())) // 2, name.strip()))
    parents: dict[str, str] = {}
    for i, (depth, name) in enumerate(rows):
        parent = next((n for d, n in rows[i + 1:] if d < depth), "<the run>")
        parents.setdefault(name, parent)
    return parents


@pytest.mark.containerd
def test_version_imports_nothing_it_does_not_use(containerd_address: str, tmp_path: Path) -> None:
    env = {**os.environ, "POUCHSH_ROOT": str(tmp_path / "root"), "POUCHSH_RUN": str(tmp_path / "run")}
    env.pop("CONTAINERD_ADDRESS", None)
    modules = imported_by(["-m", "pouchsh", "--address", containerd_address, "-c", "version"], env)
    assert "grpc" in modules, "the run did not reach containerd"  # the check below would prove nothing
    found = {m: f"imported by {modules[m]}: {why}" for m, why in NOT_ON_THE_VERSION_PATH.items()
             if m in modules}
    assert not found, found


#: module → why a fresh `ps -a` must not need it (issue 17: the listing path, docs/PERFORMANCE.md)
NOT_ON_THE_PS_PATH = {
    "managers.lifecycle": "create, start and remove: the container manager builds it on first use",
    "managers.foreground": "attached runs and execs",
    "managers.options": "the create/run flags",
    "managers.imagecache": "the image a create uses",
    "secrets": "(with hmac, hashlib) new ids and generated names, for a create",
    "pouchsh.gotemplate": "--format templates; a record's Label method lives in pouchsh.values",
    "pouchsh.commands.images": "the command table imports a command module when a script names one of its commands",
}


@pytest.mark.containerd
def test_ps_imports_nothing_it_does_not_use(containerd_address: str, namespace: str, busybox_image: str,
                                            tmp_path: Path) -> None:
    env = {**os.environ, "POUCHSH_ROOT": str(tmp_path / "root"), "POUCHSH_RUN": str(tmp_path / "run")}
    env.pop("CONTAINERD_ADDRESS", None)
    base = ["-m", "pouchsh", "--address", containerd_address, "--namespace", namespace]
    made = subprocess.run([sys.executable, *base, "-c", "create --name listed busybox true"], capture_output=True,
                          env=env, cwd=REPO, stdin=subprocess.DEVNULL, timeout=60, check=False)
    assert made.returncode == 0, made.stderr
    modules = imported_by([*base, "-c", "ps -a"], env)
    assert "ctrd.api.services.tasks.v1.tasks_pb2" in modules, "the run did not list"
    found = {m: f"imported by {modules[m]}: {why}" for m, why in NOT_ON_THE_PS_PATH.items() if m in modules}
    assert not found, found
