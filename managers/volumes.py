"""Volumes: named and anonymous directories under the data root, mounted into containers.

containerd knows nothing of volumes, so their metadata lives in a ``Store`` per namespace
(``<root>/state/<namespace>/volumes.json``) and their data in ``<root>/volumes/<namespace>/<name>/_data``
(the ``local`` driver). Which containers use a volume is read from containerd, never kept here: each
container records the volumes it uses in its label ``pouchsh/volumes`` (comma-separated names, written by
the container manager from what ``container_mounts`` returns), so one Containers.List answers "in use?".

A volume record (``volume inspect``)::

    name        the volume's name (64 hex digits for an anonymous volume)
    driver      "local"
    mountpoint  the host directory mounted into containers
    labels      user labels (record)
    options     driver options given at create (record)
    scope       "local"
    created     RFC 3339 UTC time of creation
    anonymous   true for a volume made for ``-v /path`` or an image VOLUME (``rm -v`` removes those)
"""

from __future__ import annotations

import builtins
import json
import os
import secrets
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ctrd.errors import AlreadyExists, Conflict, InvalidArgument, NotFound
from ctrd.private import private_dir
from managers import faults
from managers.filters import label_matches, matches, name_matches, parse_filters, truth
from managers.labels import LABEL, validate_labels
from managers.mountspec import (
    MountRequest,
    parse_mount,
    parse_tmpfs,
    parse_volume,
    validate_destination,
    validate_volume_name,
)
from managers.intents import Journal, live_intents
from managers.objectevents import emit
from managers.store import Store
from managers.transactions import tag

if TYPE_CHECKING:
    from managers import Managers

__all__ = ["VolumeManager", "dir_size"]

DRIVERS = ("local",)
#: ``volume ls``/``volume prune`` ``--filter`` keys
FILTERS = ("name", "driver", "label", "dangling")


def now_rfc3339() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def dir_size(path: Path) -> int:
    """Bytes used by the files under ``path`` (hard links counted once, symlinks not followed)."""
    total = 0
    seen: set[tuple[int, int]] = set()
    for dirpath, dirnames, filenames in os.walk(path):
        for name in filenames + dirnames:
            try:
                st = os.lstat(os.path.join(dirpath, name))
            except FileNotFoundError:
                continue
            if (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            total += st.st_blocks * 512
    return total


def _matches(record: dict[str, Any], filters: dict[str, list[str]], used: set[str]) -> bool:
    def test(key: str, value: str) -> bool:
        if key == "name":
            return name_matches(record["name"], value)
        if key == "driver":
            return record["driver"] == value
        if key == "label":
            return label_matches(record["labels"], value)
        return truth(key, value) == (record["name"] not in used)  # dangling

    return matches(filters, test)


class VolumeManager:
    def __init__(self, facade: Managers) -> None:
        self.facade = facade
        self.journal = Journal(facade.root)

    # -- places --------------------------------------------------------------------------------------

    @property
    def namespace(self) -> str:
        return self.facade.namespace

    def _store(self, namespace: str | None = None) -> Store:
        return Store(Path(self.facade.root) / "state" / (namespace or self.namespace) / "volumes.json")

    def _dir(self, name: str, namespace: str | None = None) -> Path:
        return Path(self.facade.root) / "volumes" / (namespace or self.namespace) / name

    # -- records -------------------------------------------------------------------------------------

    def _record(self, name: str, labels: dict[str, str], options: dict[str, str], anonymous: bool) -> dict[str, Any]:
        return {
            "name": name,
            "driver": "local",
            "mountpoint": str(self._dir(name) / "_data"),
            "labels": labels,
            "options": options,
            "scope": "local",
            "created": now_rfc3339(),
            "anonymous": anonymous,
        }

    def _check_options(self, options: dict[str, str]) -> None:
        for key in options:
            if key == "size":
                raise InvalidArgument(
                    f"volume option size: the local driver cannot enforce a size on the filesystem of "
                    f"{self.facade.root} (it would need project quotas); create the volume without -o size",
                )
            raise InvalidArgument(f"unknown option {key!r} for the local volume driver (it takes none)")

    def create(
        self,
        name: str | None = None,
        *,
        driver: str = "local",
        labels: dict[str, str] | None = None,
        options: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """Create a volume (an anonymous one, with a random name, when ``name`` is None), or return the
        existing one of that name if it was made the same way (docker's behaviour, which makes
        ``volume create x`` safe to repeat)."""
        validate_labels(labels or {})
        return self._create(name, driver=driver, labels=labels, options=options)[0]

    def _create(
        self, name: str | None, *, driver: str = "local", labels: dict[str, str] | None = None,
        options: dict[str, str] | None = None,
    ) -> tuple[dict[str, Any], bool]:
        """``create``, also saying whether this call made the volume (False: it existed)."""
        if driver not in DRIVERS:
            raise InvalidArgument(f"volume driver {driver!r} is not supported (only: {', '.join(DRIVERS)})")
        labels = dict(labels or {})
        options = dict(options or {})
        self._check_options(options)
        anonymous = name is None
        if name is None:
            name = secrets.token_hex(32)
        validate_volume_name(name)
        store = self._store()
        with store.lock:
            existing = store.read().get("volumes", {}).get(name)
            if existing is not None:
                theirs = {k: v for k, v in existing["labels"].items() if k != LABEL.TRANSACTION}
                if (labels and labels != theirs) or (options and options != existing["options"]):
                    raise AlreadyExists(f"volume {name} already exists with other labels or options")
                return dict(existing), False
            record = self._record(name, tag(self.facade, labels), options, anonymous)
            # The directory exists before its record; the intent names it until the record is written.
            with self.journal.intent("volume.create", namespace=self.namespace, name=name):
                faults.point("volume.create.before")
                # Only the volume's directory is private: _data is the mount point a container sees, with
                # its mode, so a container user other than root can still write to a fresh volume's root
                # as in docker.
                data = private_dir(self._dir(name)) / "_data"
                data.mkdir(exist_ok=True)
                faults.point("volume.create.dir-made")
                with store.update() as doc:
                    doc.setdefault("volumes", {})[name] = record
                faults.point("volume.create.recorded")
        emit(self.facade, "volume", "create", name=name, driver=driver)
        return dict(record), True

    def list(self, *, filters: builtins.list[str] | None = None) -> builtins.list[dict[str, Any]]:
        wanted = parse_filters(filters, FILTERS, "volumes", switches=("dangling",))
        records = sorted(self._store().read().get("volumes", {}).values(), key=lambda r: r["name"])
        used = self._users_by_volume() if "dangling" in wanted else {}
        return [r for r in records if _matches(r, wanted, set(used))]

    def inspect(self, name: str) -> dict[str, Any]:
        record = self._store().read().get("volumes", {}).get(name)
        if record is None:
            validate_volume_name(name)
            raise NotFound(f"no such volume: {name}")
        return record

    def exists(self, name: str) -> bool:
        return name in self._store().read().get("volumes", {})

    def remove(self, names: builtins.list[str], *, force: bool = False) -> builtins.list[str]:
        """Remove volumes; a volume in use by any container is refused (naming the containers), also
        with ``force``, which only makes a missing volume not an error. Nothing is removed unless all can be."""
        known = self._store().read().get("volumes", {})
        missing = [n for n in names if n not in known]
        if missing and not force:
            for n in missing:
                validate_volume_name(n)
            raise NotFound(f"no such volume: {', '.join(missing)}")
        targets = [n for n in dict.fromkeys(names) if n in known]
        return self._delete(targets, refuse_used=True)

    def ensure(self, names: builtins.list[str]) -> None:
        """Make each of ``names`` exist again if a ``volume rm`` of another process removed it between a
        container create's choice of its volumes and the intent naming them (docker makes a missing named
        volume on create too). From then on ``remove`` sees the intent and refuses."""
        for name in names:
            self._create(name)

    def _refuse_used(self, targets: builtins.list[str]) -> None:
        """Conflict if a container uses one of ``targets``, or a container create still in flight in a
        live process has named it (its intent, managers.lifecycle)."""
        users = self._users_by_volume()
        for r in live_intents(self.facade.root):
            if r.get("kind") == "container.create" and r.get("namespace") == self.namespace:
                for name in r.get("volumes") or []:
                    users.setdefault(name, []).append(str(r.get("name") or r.get("id", ""))[:12])
        busy = {n: users[n] for n in targets if n in users}
        if busy:
            detail = "; ".join(f"{n} is used by {', '.join(sorted(c))}" for n, c in busy.items())
            raise Conflict(f"volume in use: {detail}", hint="remove those containers first")

    def _delete(self, names: builtins.list[str], *, refuse_used: bool = False) -> builtins.list[str]:
        if not names:
            return []
        store = self._store()
        trash: builtins.list[Path] = []
        with self.journal.intent("volume.rm", namespace=self.namespace, names=names), store.lock:
            if refuse_used:
                # under the store's lock, so that no create can pick one of these volumes in between
                self._refuse_used(names)
            with store.update() as doc:
                volumes = doc.setdefault("volumes", {})
                done = [name for name in names if volumes.pop(name, None) is not None]
            faults.point("volume.rm.unregistered")
            for name in done:
                src = self._dir(name)
                if src.exists():
                    # Out of the way, still under the lock: a volume of the same name created right after
                    # never sees the old data.
                    dst = src.with_name(f".deleting-{name}-{secrets.token_hex(4)}")
                    src.rename(dst)
                    trash.append(dst)
            for path in trash:
                shutil.rmtree(path, ignore_errors=True)
        for name in done:
            emit(self.facade, "volume", "destroy", name=name, driver="local")
        return done

    # -- crash safety --------------------------------------------------------------------------------

    def reconcile_intent(self, record: dict[str, Any]) -> None:
        """A ``volume create`` or ``rm`` killed mid-way (managers.intents): the directories of the named
        volumes that have no record go, whichever of the two it was."""
        if record["kind"] not in ("volume.create", "volume.rm"):
            raise InvalidArgument(f"unknown volume intent {record['kind']!r}")
        names = [record["name"]] if record["kind"] == "volume.create" else record["names"]
        self._remove_orphans(record["namespace"], names)

    def _remove_orphans(self, namespace: str, names: builtins.list[str] | None) -> builtins.list[str]:
        """Remove the directories under the namespace's volume folder that have no record (only those of
        ``names``, unless None) and the trash of interrupted deletes. Under the store's lock, which
        creation holds from its mkdir to its record, so a volume being made is never taken for one; the
        volumes named by a running process's intent are left alone as well."""
        store = self._store(namespace)
        top = Path(self.facade.root) / "volumes" / namespace
        removed: builtins.list[str] = []
        with store.lock:
            known = set(store.read().get("volumes", {}))
            known |= {r["name"] for r in live_intents(self.facade.root)
                      if r.get("kind") == "volume.create" and r.get("namespace") == namespace}
            try:
                entries = sorted(os.listdir(top))
            except FileNotFoundError:
                return removed
            for entry in entries:
                trash = entry.startswith(".deleting-")
                if not trash and (entry in known or (names is not None and entry not in names)):
                    continue
                if trash and names is not None and not any(entry.startswith(f".deleting-{n}-") for n in names):
                    continue
                shutil.rmtree(top / entry, ignore_errors=True)
                removed.append(entry)
        return removed

    def reclaim(self) -> builtins.list[str]:
        """``system prune``'s part: volume directories without a record, in every namespace."""
        top = Path(self.facade.root) / "volumes"
        try:
            namespaces = sorted(os.listdir(top))
        except FileNotFoundError:
            return []
        return [f"{ns}/{d}" for ns in namespaces for d in self._remove_orphans(ns, None)]

    def prune(self, *, all: bool = False, filters: builtins.list[str] | None = None) -> dict[str, Any]:
        """Remove unused volumes: anonymous ones, or every unused one with ``all`` (docker ≥ 23)."""
        wanted = parse_filters(filters, FILTERS, "volumes", switches=("dangling",))
        users = self._users_by_volume()
        records = self._store().read().get("volumes", {}).values()
        victims = [
            r for r in records
            if r["name"] not in users and (all or r.get("anonymous")) and _matches(r, wanted, set(users))
        ]
        reclaimed = sum(dir_size(Path(r["mountpoint"])) for r in victims)
        deleted = self._delete([r["name"] for r in victims])
        return {"volumes_deleted": sorted(deleted), "space_reclaimed": reclaimed}

    def usage(self) -> builtins.list[dict[str, Any]]:
        """Each volume with its size and how many containers use it (for ``system df``)."""
        users = self._users_by_volume()
        out = []
        for r in sorted(self._store().read().get("volumes", {}).values(), key=lambda r: r["name"]):
            out.append({
                "name": r["name"],
                "size": dir_size(Path(r["mountpoint"])),
                "containers": len(users.get(r["name"], ())),
            })
        return out

    # -- who uses what -------------------------------------------------------------------------------

    def _containers(self) -> builtins.list[Any]:
        return list(self.facade.ctrd.containers.list())

    def _users_by_volume(self, exclude: str | None = None) -> dict[str, builtins.list[str]]:
        """volume name → names of the containers using it, from one Containers.List."""
        users: dict[str, builtins.list[str]] = {}
        for c in self._containers():
            if c.id == exclude:
                continue
            labels = c.labels or {}
            for name in filter(None, labels.get(LABEL.VOLUMES, "").split(",")):
                users.setdefault(name, []).append(labels.get(LABEL.NAME) or c.id[:12])
        return users

    # -- the container manager's side ------------------------------------------------------------------

    def container_mounts(
        self,
        container_id: str,
        *,
        volumes: builtins.list[str],
        mounts: builtins.list[str],
        tmpfs: builtins.list[str],
        image_volumes: builtins.list[str],
        volumes_from: builtins.list[str],
    ) -> tuple[builtins.list[dict[str, Any]], builtins.list[str], builtins.list[tuple[str, str]]]:
        """OCI mounts for a new container, the names of the volumes it uses, and the (volume,
        destination) pairs to seed from the image (``seed``; not those asked ``nocopy``).

        Everything is parsed and checked first (specs, names, bind sources, duplicate targets, the
        ``--volumes-from`` containers); only then are missing named volumes and the anonymous ones
        created, and if that fails midway the ones made here are removed again.
        """
        requests: builtins.list[MountRequest] = []
        requests += [parse_volume(v) for v in volumes]
        requests += [parse_mount(m) for m in mounts]
        requests += [parse_tmpfs(t) for t in tmpfs]
        seen: dict[str, str] = {}
        for r in requests:
            if r.destination in seen:
                raise InvalidArgument(f"duplicate mount point {r.destination} ({seen[r.destination]} and {r.kind})")
            seen[r.destination] = r.kind
            if r.kind == "bind" and not os.path.exists(r.source):
                raise InvalidArgument(f"bind source path does not exist: {r.source}")
        inherited = self._volumes_from(volumes_from, container_id)
        for m in inherited:
            if m["destination"] not in seen:
                seen[m["destination"]] = "volumes-from"
        for path in image_volumes:
            dst = validate_destination(path, f"image volume {path}")
            if dst not in seen:
                seen[dst] = "image"
                requests.append(MountRequest("volume", "", dst))
        inherited = [m for m in inherited if seen.get(m["destination"]) == "volumes-from"]

        known = self._store().read().get("volumes", {})
        created: builtins.list[str] = []
        names: builtins.list[str] = []
        oci: builtins.list[dict[str, Any]] = []
        seeds: builtins.list[tuple[str, str]] = []
        try:
            for r in requests:
                if r.kind == "volume":
                    name = r.source
                    if not name or name not in known:
                        record, made = self._create(name or None)
                        name = record["name"]
                        if made:
                            created.append(name)
                        known[name] = record
                    names.append(name)
                    oci.append(_bind(known[name]["mountpoint"], r.destination, r.readonly, r.propagation))
                    if not r.nocopy:
                        seeds.append((name, r.destination))
                elif r.kind == "bind":
                    oci.append(_bind(r.source, r.destination, r.readonly, r.propagation))
                else:
                    options = ["nosuid", "nodev", "noexec", *r.options]
                    if r.readonly:
                        options.append("ro")
                    oci.append({"destination": r.destination, "type": "tmpfs", "source": "tmpfs",
                                "options": list(dict.fromkeys(options))})
        except BaseException:
            self._delete(created)
            raise
        for m in inherited:
            oci.append({k: m[k] for k in ("destination", "type", "source", "options")})
            if m.get("volume"):
                names.append(m["volume"])
        return oci, list(dict.fromkeys(names)), seeds

    def seed(self, seeds: builtins.list[tuple[str, str]], rootfs: Any) -> builtins.list[str]:
        """docker's copy-up (managers.copyup): each volume of ``seeds`` that is still empty gets the
        content, owner and mode of its destination in the container's new snapshot, whose mounts are
        ``rootfs``. The names of the volumes seeded."""
        from managers import copyup, rootfs as rootfs_mod  # the mount API and the copy, only when needed
        from managers.cplimits import CopyLimits

        done: builtins.list[str] = []
        seeds = [(n, d) for n, d in seeds if copyup.is_empty(self._dir(n) / "_data")]
        if not seeds:
            return done  # every volume has content already: the snapshot need not be mounted
        limits = CopyLimits.from_env()
        # the snapshot is new and no container uses it yet: its own overlay, mounted read-only
        with rootfs_mod.snapshot_root(rootfs, readonly=True) as root:
            for name, destination in seeds:
                if copyup.seed(root, destination, self._dir(name) / "_data", limits):
                    done.append(name)
        return done

    def _volumes_from(self, refs: builtins.list[str], self_id: str) -> builtins.list[dict[str, Any]]:
        """The volume and bind mounts of other containers, ``NAME[:ro|rw]`` each."""
        if not refs:
            return []
        volumes_root = str(Path(self.facade.root) / "volumes" / self.namespace) + "/"
        by_name: dict[str, Any] = {}
        containers = self._containers()
        for c in containers:
            by_name[c.id] = c
            name = (c.labels or {}).get(LABEL.NAME)
            if name:
                by_name[name] = c
        out: builtins.list[dict[str, Any]] = []
        for ref in refs:
            target, _, mode = ref.partition(":")
            if mode not in ("", "ro", "rw"):
                raise InvalidArgument(f"--volumes-from {ref}: mode must be ro or rw")
            c = by_name.get(target)
            if c is None:
                matches = [x for x in containers if x.id.startswith(target)] if len(target) >= 3 else []
                if len(matches) != 1:
                    raise NotFound(f"--volumes-from: no such container: {target}")
                c = matches[0]
            if c.id == self_id:
                raise InvalidArgument("--volumes-from: a container cannot take volumes from itself")
            names = set(filter(None, (c.labels or {}).get(LABEL.VOLUMES, "").split(",")))
            for m in _spec_mounts(c):
                src = m.get("source", "")
                volume = None
                if src.startswith(volumes_root):
                    volume = src[len(volumes_root):].split("/", 1)[0]
                    if volume not in names:
                        continue
                elif m.get("type") != "bind" or src.startswith(str(self.facade.root) + "/"):
                    continue  # only user volumes and binds travel; per-container files do not
                options = [o for o in m.get("options", []) if o not in ("ro", "rw")]
                readonly = mode == "ro" if mode else "ro" in m.get("options", [])
                out.append({**m, "options": options + (["ro"] if readonly else []), "volume": volume})
        return out

    def release(self, container_id: str, names: builtins.list[str], *, remove_anonymous: bool) -> None:
        """A container is gone: with ``remove_anonymous`` (``rm -v``), remove its anonymous volumes that
        no other container uses. Named volumes always stay."""
        if not remove_anonymous or not names:
            return
        known = self._store().read().get("volumes", {})
        anonymous = [n for n in names if known.get(n, {}).get("anonymous")]
        if not anonymous:
            return
        users = self._users_by_volume(exclude=container_id)
        self._delete([n for n in anonymous if n not in users])


def _bind(source: str, destination: str, readonly: bool, propagation: str) -> dict[str, Any]:
    options = ["rbind", propagation, "ro" if readonly else "rw"]
    return {"destination": destination, "type": "bind", "source": source, "options": options}


def _spec_mounts(container: Any) -> list[dict[str, Any]]:
    spec = getattr(container, "spec", None)
    if spec is None:
        return []
    if isinstance(spec, (bytes, str)):
        spec = json.loads(spec or b"{}")
    return list(spec.get("mounts") or [])
