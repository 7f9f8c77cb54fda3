"""Pull and push of an 8-layer, 200 MB image through Debian's docker-registry on loopback, vs ctr and skopeo.

The image (8 layers of incompressible data, 25 MB each; 8 × 2 MB with --quick) is pushed once, then
each round, interleaved: ``pouchsh pull`` (fetch and unpack) against ``ctr images pull --plain-http``
(fetch and unpack) and ``skopeo copy docker://… oci:DIR`` (fetch only); and ``pouchsh push`` against
``skopeo copy oci:DIR docker://…``, each to an empty registry of its own (so neither finds a blob there
already, nor mounts one from another repository). Every contender is a fresh process. Between rounds
the pulled content is purged (a fresh namespace each time, its content collected), so every pull
fetches every byte.

containerd's content store is shared between namespaces: a blob that any namespace holds, or that one
deleted and garbage collection has not removed yet, is there for a pull in another namespace without a
byte fetched (``ctr images pull`` takes it so; pouchsh fetches it). So no namespace holds the image while
the pulls run (the pushes' copy is imported after them), and each purge ends with a synchronous
collection.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from bench import Env, Figure
from bench.common import REPO, _repo_on_path, interleave, median, paired

REGISTRY = "/usr/bin/docker-registry"


def run(env: Env) -> list[Figure]:
    for tool in (REGISTRY, "skopeo", "ctr"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"{tool} is missing (scripts/setup-host.sh installs it)")
    layers, size = (8, 2 << 20) if env.quick else (8, 25 << 20)
    env.compile_sources()
    work = Path(tempfile.mkdtemp(prefix="pull-", dir=env.base))
    with _registry(work / "registry") as registry:
        source = env.namespace("pull-src")
        from ctrd.imports import import_oci_layout

        ref = f"{registry}/bench/app:1"
        layout = _layout(work / "layout", layers, size, ref)
        import_oci_layout(env.client.with_namespace(source), layout)
        env.pouchsh(source, "push", "-q", ref)

        def fresh_namespace() -> str:
            name = f"pull-{uuid.uuid4().hex[:6]}"
            env.client.namespaces.create(name, {"pouchsh.bench": "pull"})
            return name

        def purge(namespace: str) -> None:
            _repo_on_path()
            from tests.support.cleanup import purge_namespace

            purge_namespace(env.client, namespace)
            # the blobs go in the collection the deletions scheduled: run one now and wait for it
            collector = env.client.with_namespace(source)
            lease = f"collect-{uuid.uuid4().hex[:6]}"
            collector.leases.create(lease)
            collector.leases.delete(lease, sync=True)

        purge(source)  # (its collection's lease makes it again, empty) the image is back for the pushes

        def timed_pull(argv_of: object) -> float:
            namespace = fresh_namespace()
            try:
                start = time.perf_counter()
                argv_of(namespace)  # type: ignore[operator]
                return time.perf_counter() - start
            finally:
                purge(namespace)

        def pouchsh_pull() -> float:
            return timed_pull(lambda ns: env.pouchsh(ns, "pull", "-q", ref))

        def ctr_pull() -> float:
            return timed_pull(lambda ns: env.ctr(ns, "images", "pull", "--plain-http", ref))

        def skopeo_pull() -> float:
            target = work / f"oci-{uuid.uuid4().hex[:6]}"
            try:
                start = time.perf_counter()
                _skopeo("copy", "-q", "--src-tls-verify=false", f"docker://{ref}", f"oci:{target}")
                return time.perf_counter() - start
            finally:
                shutil.rmtree(target, ignore_errors=True)

        def pouchsh_push() -> float:
            # an empty registry each time: no blob is there already, nothing can be mounted
            with _registry(work / f"push-{uuid.uuid4().hex[:6]}") as target:
                name = f"{target}/bench/app:1"
                env.ctr(source, "images", "tag", ref, name)
                start = time.perf_counter()
                env.pouchsh(source, "push", "-q", name)
                took = time.perf_counter() - start
                env.ctr(source, "images", "rm", name)
            return took

        def skopeo_push() -> float:
            with _registry(work / f"push-{uuid.uuid4().hex[:6]}") as target:
                start = time.perf_counter()
                _skopeo("copy", "-q", "--dest-tls-verify=false", f"oci:{layout}", f"docker://{target}/bench/app:1")
                return time.perf_counter() - start

        pouchsh_pull()  # warm: page cache of the registry's blobs, byte-compiled sources
        pulls = interleave({"pouchsh": pouchsh_pull, "ctr": ctr_pull, "skopeo": skopeo_pull}, env.rounds)
        import_oci_layout(env.client.with_namespace(source), layout)
        pushes = interleave({"pouchsh": pouchsh_push, "skopeo": skopeo_push}, env.rounds)

    total = layers * size
    note = f"{layers} layers, {total >> 20} MiB, {env.rounds} interleaved rounds, medians"
    vs_ctr, _ = paired(pulls["pouchsh"], pulls["ctr"])
    vs_skopeo, _ = paired(pulls["pouchsh"], pulls["skopeo"])
    push_ratio, _ = paired(pushes["pouchsh"], pushes["skopeo"])
    ms = 1000.0
    return [
        Figure("pull (fetch + unpack)", median(pulls["pouchsh"]) * ms, "ms", median(pulls["ctr"]) * ms,
               "ctr images pull --plain-http", "≤ 0.8× ctr", vs_ctr <= 0.8, note, vs_ctr),
        Figure("pull vs a fetch only", median(pulls["pouchsh"]) * ms, "ms", median(pulls["skopeo"]) * ms,
               "skopeo copy to oci:DIR", "≤ 1.5× skopeo", vs_skopeo <= 1.5, note, vs_skopeo),
        Figure("push", median(pushes["pouchsh"]) * ms, "ms", median(pushes["skopeo"]) * ms,
               "skopeo copy from oci:DIR", "≤ 1.0× skopeo", push_ratio <= 1.0, note, push_ratio),
    ]


def _skopeo(*args: str) -> None:
    subprocess.run(["skopeo", *args], check=True, capture_output=True, stdin=subprocess.DEVNULL)


def _layout(path: Path, layers: int, size: int, name: str) -> Path:
    _repo_on_path()
    from tests.support.images import _tar, build_layout

    # gzip level 1 in the builder would not matter: random bytes do not compress
    contents = [_tar([("file", f"data/{i}.bin", os.urandom(size))]) for i in range(layers)]
    return build_layout(path, contents, name=name)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def _registry(base: Path) -> Iterator[str]:
    base.mkdir(parents=True)
    try:
        yield from _serving(base)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _serving(base: Path) -> Iterator[str]:
    address = f"127.0.0.1:{_free_port()}"
    config = base / "config.yml"
    config.write_text(
        "version: 0.1\nlog: {level: error}\n"
        f"storage: {{filesystem: {{rootdirectory: {base / 'data'}}}}}\nhttp: {{addr: {address}}}\n"
    )
    proc = subprocess.Popen([REGISTRY, "serve", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            cwd=REPO)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                conn = http.client.HTTPConnection(address, timeout=1)
                conn.request("GET", "/v2/")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("docker-registry did not start") from None
                time.sleep(0.05)
            finally:
                conn.close()
        yield address
    finally:
        proc.terminate()
        proc.wait(10)
