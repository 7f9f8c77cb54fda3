"""Every script in scripts/examples runs through ``pouchsh FILE`` against the test containerd, exits 0 and
leaves nothing behind: no container, no volume, no network of its own, no image but the one it found.

Each example runs in its own namespace and data root. Arguments an example needs come from
``ARGUMENTS`` (the registry example gets the address of a docker-registry on loopback).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.images.conftest import registry  # noqa: F401 - the fixture, shared with the image tests

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "scripts" / "examples").glob("*.pouch"))
BUILTIN_NETWORKS = {"bridge", "host", "none"}

#: An example's arguments, from the fixtures by name.
ARGUMENTS: dict[str, Callable[[pytest.FixtureRequest], list[str]]] = {
    "registry-roundtrip.pouch": lambda request: [request.getfixturevalue("registry")],
}


def pouchsh(*args: str, env: dict[str, str], timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pouchsh", *args], env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)


def test_there_are_at_least_eight_examples_each_with_a_comment_header() -> None:
    assert len(EXAMPLES) >= 8
    for example in EXAMPLES:
        lines = example.read_text().splitlines()
        body = [line for line in lines if not line.startswith("#!")]
        assert body and body[0].startswith("# ") and len(body[0]) > 20, f"{example.name} has no comment header"


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_example_checks(example: Path) -> None:
    result = pouchsh("--check", str(example), env=dict(os.environ))
    assert result.returncode == 0, result.stderr


@pytest.fixture
def sandbox(containerd_address: str, namespace: str, busybox_image: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    """The environment of one example run; afterwards, anything left is reported by the test itself."""
    env = dict(os.environ)
    env.pop("CONTAINERD_NAMESPACE", None)
    env.update({
        "CONTAINERD_ADDRESS": containerd_address,
        "CONTAINERD_NAMESPACE": namespace,
        "POUCHSH_ROOT": str(tmp_path / "root"),
        "POUCHSH_RUN": str(tmp_path / "run"),
    })
    yield env


def leftovers(env: dict[str, str], image: str) -> dict[str, list[str]]:
    """What the namespace holds beyond its start state, read through the managers."""
    from managers import Managers

    facade = Managers(address=env["CONTAINERD_ADDRESS"], namespace=env["CONTAINERD_NAMESPACE"],
                      root=Path(env["POUCHSH_ROOT"]), run_root=Path(env["POUCHSH_RUN"]))
    try:
        return {
            "containers": [c["name"] for c in facade.containers.list(all=True)],
            "volumes": [v["name"] for v in facade.volumes.list()],
            "networks": [n["name"] for n in facade.networks.list() if n["name"] not in BUILTIN_NETWORKS],
            "images": [i["name"] for i in facade.images.list() if i["name"] != image],
        }
    finally:
        facade.close()


@pytest.mark.containerd
@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_example_runs_and_cleans_up(example: Path, sandbox: dict[str, str], busybox_image: str,
                                    request: pytest.FixtureRequest) -> None:
    args = ARGUMENTS.get(example.name, lambda _r: [])(request)
    result = pouchsh(str(example), *args, env=sandbox)
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stderr
    left = leftovers(sandbox, busybox_image)
    assert left == {"containers": [], "volumes": [], "networks": [], "images": []}
