"""Regenerate the Python stubs from ctrd's own copy of containerd's 1.6 protos.

    python ctrd/api/generate.py                 # compile ctrd/api/**/*.proto in place (``make protos``)
    python ctrd/api/generate.py --out DIR       # compile into DIR/ctrd/api/... (the stale-stub test)
    python ctrd/api/generate.py --refresh-from /usr/share/gocode/src/github.com/containerd/containerd
                                                # re-derive the .proto files from containerd's sources, then compile

The .proto files keep containerd's packages, message, field and service names and numbers; only the
gogoproto and fieldpath options are stripped (they never touch the wire format) and imports are rewritten to
the repository root so that the generated modules import as ``ctrd.api.…``.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

API = Path(__file__).resolve().parent
REPO = API.parent.parent

# containerd source path (relative to its module root) → our path under ctrd/api.
SOURCES: dict[str, str] = {
    "api/types/descriptor.proto": "types/descriptor.proto",
    "api/types/metrics.proto": "types/metrics.proto",
    "api/types/mount.proto": "types/mount.proto",
    "api/types/platform.proto": "types/platform.proto",
    "api/types/task/task.proto": "types/task/task.proto",
    "api/services/version/v1/version.proto": "services/version/v1/version.proto",
    "api/services/namespaces/v1/namespace.proto": "services/namespaces/v1/namespace.proto",
    "api/services/containers/v1/containers.proto": "services/containers/v1/containers.proto",
    "api/services/images/v1/images.proto": "services/images/v1/images.proto",
    "api/services/content/v1/content.proto": "services/content/v1/content.proto",
    "api/services/snapshots/v1/snapshots.proto": "services/snapshots/v1/snapshots.proto",
    "api/services/diff/v1/diff.proto": "services/diff/v1/diff.proto",
    "api/services/tasks/v1/tasks.proto": "services/tasks/v1/tasks.proto",
    "api/services/events/v1/events.proto": "services/events/v1/events.proto",
    "api/services/leases/v1/leases.proto": "services/leases/v1/leases.proto",
    "api/services/introspection/v1/introspection.proto": "services/introspection/v1/introspection.proto",
    "api/events/container.proto": "events/container.proto",
    "api/events/content.proto": "events/content.proto",
    "api/events/image.proto": "events/image.proto",
    "api/events/namespace.proto": "events/namespace.proto",
    "api/events/snapshot.proto": "events/snapshot.proto",
    "api/events/task.proto": "events/task.proto",
    "runtime/v2/runc/options/oci.proto": "runc/options/oci.proto",
}

# google/rpc/status.proto comes from googleapis, which grpc_tools does not ship; ours has the same
# package, message and field numbers, under our root so that it never shadows googleapis-common-protos.
STATUS_PROTO = "google/rpc/status.proto"

HEADER = "// Derived from containerd v1.6.20 {src}: gogoproto/fieldpath options stripped, imports rebased.\n"


def strip(text: str, src: str) -> str:
    """containerd's proto text → ours: same wire format, no gogoproto, imports under ``ctrd/api``."""
    text = re.sub(r'^import weak "[^"]+";\n', "", text, flags=re.MULTILINE)
    text = re.sub(r"^\s*option \((?:gogoproto|containerd\.plugin)\.[^;]*;\n", "", text, flags=re.MULTILINE)
    text = re.sub(r"\s*\[\(gogoproto\.[^\]]*\]", "", text, flags=re.DOTALL)
    for theirs, ours in SOURCES.items():
        text = text.replace(f'import "github.com/containerd/containerd/{theirs}";', f'import "ctrd/api/{ours}";')
    text = text.replace(f'import "{STATUS_PROTO}";', f'import "ctrd/api/{STATUS_PROTO}";')
    leftover = [ln for ln in text.splitlines() if "gogoproto" in ln or re.match(r'import "github.com/', ln)]
    if leftover:
        raise SystemExit(f"{src}: unstripped lines remain: {leftover}")
    return HEADER.format(src=src) + text


def refresh(containerd_root: Path) -> None:
    for theirs, ours in SOURCES.items():
        target = API / ours
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(strip((containerd_root / theirs).read_text(), theirs))


def proto_files() -> list[str]:
    return sorted(str(p.relative_to(REPO)) for p in API.rglob("*.proto"))


def generate(out: Path) -> None:
    """Compile every ctrd/api proto into ``out`` (the repository root for an in-place build)."""
    import grpc_tools
    from grpc_tools import protoc

    out.mkdir(parents=True, exist_ok=True)
    well_known = Path(grpc_tools.__file__).parent / "_proto"
    args = ["protoc", f"-I{REPO}", f"-I{well_known}", f"--python_out={out}", f"--pyi_out={out}", f"--grpc_python_out={out}"]
    if protoc.main(args + proto_files()) != 0:
        raise SystemExit("protoc failed")
    # Every directory holding generated modules is a regular package, so setuptools packages it.
    for proto in proto_files():
        package = out / Path(proto).parent
        while package != out and package.is_relative_to(out / "ctrd"):
            (package / "__init__.py").touch()
            package = package.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=REPO, help="output root (default: the repository)")
    parser.add_argument("--refresh-from", type=Path, help="containerd source tree to re-derive the protos from")
    args = parser.parse_args(argv)
    if args.refresh_from:
        refresh(args.refresh_from)
    generate(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
