"""A containerd with its cri plugin on, for the pod tests only (the suite's own runs with CRI disabled,
which keeps every other test's start fast): the configuration docs/SCALE.md documents, under a private
directory: own CNI bridge and subnet, own runc root, own cgroup parent, netns files under its state.

- ``cri_containerd`` (module): its socket; busybox imported into ``k8s.io``. Stopped and cleaned at the
  end: pods removed, daemon stopped, its bridge deleted, the cgroup directories it left removed.
- ``pods`` (per test): a ``managers.Managers`` facade on it with private roots; its pods removed after.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from managers.pods import CGROUP_PARENT, PAUSE_IMAGE

BRIDGE = f"pcri{os.getpid() % 100000}"


@dataclass(frozen=True)
class CriEmbedded:
    """ctrd.daemon.Embedded's files, with the cri plugin configured instead of disabled."""

    data_root: Path
    run_root: Path

    def __getattr__(self, name: str) -> Any:
        from ctrd.daemon import Embedded

        return getattr(Embedded(self.data_root, self.run_root), name)

    def config_text(self) -> str:
        from ctrd.daemon import Embedded

        plain = Embedded(self.data_root, self.run_root)
        base = plain.config_text().replace('disabled_plugins = ["io.containerd.grpc.v1.cri"]\n', "")
        d = self.data_root
        cni = d / "cni"
        (cni / "net.d").mkdir(parents=True, exist_ok=True)
        (cni / "net.d" / "10-pods.conflist").write_text(
            '{"cniVersion": "1.0.0", "name": "pouchsh-pods", "plugins": [{"type": "bridge", "bridge": "%s", '
            '"isGateway": true, "ipMasq": false, "hairpinMode": true, "ipam": {"type": "host-local", '
            '"dataDir": "%s", "ranges": [[{"subnet": "10.233.77.0/24"}]], "routes": [{"dst": "0.0.0.0/0"}]}}, '
            '{"type": "portmap", "capabilities": {"portMappings": true}}]}'
            % (BRIDGE, cni / "data")
        )
        return base + f"""
[metrics]
  address = ""

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{PAUSE_IMAGE}"
  restrict_oom_score_adj = true
  disable_apparmor = true
  enable_selinux = false
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "{d / 'runc'}"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{cni / 'net.d'}"
    max_conf_num = 1
"""


@pytest.fixture(scope="module")
def cri_containerd(busybox_layout: Path) -> Iterator[str]:
    from ctrd.daemon import start_embedded, stop_embedded

    base = Path(tempfile.mkdtemp(prefix="pc-", dir="/tmp"))
    embedded = CriEmbedded(base / "root", base / "run")
    try:
        start_embedded(embedded, timeout=60)  # type: ignore[arg-type]  # writes our config_text()
        import ctrd
        from ctrd.imports import import_oci_layout

        client = ctrd.Client(str(embedded.socket))
        import_oci_layout(client.with_namespace("k8s.io"), busybox_layout)
        yield str(embedded.socket)
        _remove_every_pod(client)
        client.close()
    finally:
        stop_embedded(embedded)  # type: ignore[arg-type]
        subprocess.run(["ip", "link", "del", BRIDGE], capture_output=True, check=False)
        _rmdir_cgroups(CGROUP_PARENT)
        shutil.rmtree(base, ignore_errors=True)


def _remove_every_pod(client: Any) -> None:
    from ctrd.cri import Cri

    cri = Cri(client)
    for pod in cri.sandboxes():
        cri.stop_sandbox(pod.id)
        cri.remove_sandbox(pod.id)


def _rmdir_cgroups(parent: str) -> None:
    """Empty cgroup directories stay in every hierarchy after the pods go (gotcha 2): remove them."""
    for hierarchy in Path("/sys/fs/cgroup").iterdir():
        top = hierarchy / parent.strip("/")
        if not top.is_dir():
            continue
        for path in sorted(top.glob("**/"), key=lambda p: len(p.parts), reverse=True):
            try:
                path.rmdir()
            except OSError:
                pass


@pytest.fixture
def pods(cri_containerd: str, tmp_path: Path) -> Iterator[Any]:
    from managers import Managers

    facade = Managers(address=cri_containerd, namespace="default", root=tmp_path / "root", run_root=tmp_path / "run")
    try:
        facade.pods.ensure_sandbox_image()  # tests that make sandboxes directly must not make containerd pull
        yield facade
    finally:
        _remove_every_pod(facade.client)
        facade.close()
