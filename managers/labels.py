"""The labels pouchsh writes (``LABEL``: the one table of their names), and the rule for user labels,
one for every object that carries them: containers, volumes and networks.

A user label may not sit in a namespace that containerd or pouchsh itself reads: ``containerd.io/``
and ``io.containerd.`` labels change containerd's garbage collection and restart monitor
(``containerd.io/gc.root`` pins content forever), and ``pouchsh/`` labels are pouchsh's own record of
a container. Volumes and networks live in pouchsh's stores, where containerd never sees them, and are
held to the same rule anyway, so a label that is refused on one object is refused on all of them and a
store never holds what a later feature might trust. The size limit is containerd's (``labels/validate.go``
at v1.6.20): key and value together at most 4096 bytes.
"""

from __future__ import annotations

from collections.abc import Mapping

from ctrd.errors import InvalidArgument

__all__ = ["LABEL", "MAX_LABEL_BYTES", "RESERVED_LABEL_PREFIXES", "validate_labels"]

RESERVED_LABEL_PREFIXES = ("pouchsh/", "containerd.io/", "io.containerd.")
MAX_LABEL_BYTES = 4096


class LABEL:
    """pouchsh's container labels (containerd is the source of truth for all of it). Every module that
    reads or writes one names it from here."""

    NAME = "pouchsh/name"
    RESTART = "pouchsh/restart"
    STOP_SIGNAL = "pouchsh/stop-signal"
    STOP_TIMEOUT = "pouchsh/stop-timeout"
    AUTO_REMOVE = "pouchsh/auto-remove"
    LOG_PATH = "pouchsh/log-path"
    LOG_OPTS = "pouchsh/log-opts"  # max-size=N,max-file=K
    HOSTNAME = "pouchsh/hostname"
    VOLUMES = "pouchsh/volumes"  # comma-separated volume names (managers.volumes reads it)
    NETWORK = "pouchsh/network"  # the --network value (managers.networks sets it, NETWORKS, PORTS, NETCONFIG)
    EXIT_CODE = "pouchsh/exit-code"
    FINISHED_AT = "pouchsh/finished-at"
    STARTED_AT = "pouchsh/started-at"  # when the last run started (runc's record, kept by Lifecycle.reap)
    STARTED = "pouchsh/started"
    TTY = "pouchsh/tty"
    IPC = "pouchsh/ipc"  # the --ipc mode: "shareable" lets others join with --ipc container:NAME
    INTERACTIVE = "pouchsh/interactive"
    PORTS = "pouchsh/ports"  # JSON list of {host_ip, host_port, container_port, protocol}
    NETWORKS = "pouchsh/networks"  # comma-separated CNI network names
    NETCONFIG = "pouchsh/netconfig"  # JSON: ip, hostname, dns, add_hosts
    NET_ALIASES = "pouchsh/network-aliases"  # JSON: network name -> the container's other names on it
    NET_HOOKS = "pouchsh/net-hooks"  # "true": OCI hooks do CNI ADD/DEL (restartable containers)
    COMMAND = "pouchsh/command"  # JSON list: the process args, so ps needs no spec (absent if too long)
    HEALTHCHECK = "pouchsh/healthcheck"  # JSON: the check fixed at create (managers.health.HealthConfig)
    HEALTH = "pouchsh/health"  # JSON: the last recorded result, of the task with that pid (managers.health)
    TRANSACTION = "pouchsh/transaction"  # the id of the transaction that made it (managers.transactions)
    MOUNTS = "pouchsh/mounts"  # JSON: the record's mounts table, so ps needs no spec (absent if too long)
    PULL = "pouchsh/pull"  # on a pull's lease: the image it pulls (an interrupted pull's partial is resumed)
    LXCFS = "pouchsh/lxcfs"  # "true": lxcfs's /proc files are bound in (managers.lxcfs re-attaches them)
    CONTAINERD_STOP_SIGNAL = "io.containerd.image.config.stop-signal"
    RESTART_STATUS = "containerd.io/restart.status"
    # The image's target digest: containerd's GC keeps that content (manifest, config, layers) while
    # the container exists, whatever becomes of the image's names, and rmi knows by it which images
    # containers use (managers.images).
    IMAGE_CONTENT = "containerd.io/gc.ref.content.image"
    RESTART_LOGURI = "containerd.io/restart.loguri"
    # On a blob in the content store, + the registry's domain: the repositories it came from or went to
    # (comma-separated), as containerd's and nerdctl's pulls set it; a push mounts from them
    # (managers.sources).
    DISTRIBUTION_SOURCE = "containerd.io/distribution.source."


def validate_labels(labels: Mapping[str, str]) -> None:
    """Raise InvalidArgument for the first label a user may not set; ``labels`` is left as it is."""
    for key, value in labels.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise InvalidArgument(f"label {key!r}: keys and values are strings")
        if not key:
            raise InvalidArgument("a label needs a key (KEY=VALUE)")
        if "\x00" in key or "\x00" in value:
            raise InvalidArgument(f"label {key!r}: a NUL byte is not allowed")
        if key.startswith(RESERVED_LABEL_PREFIXES):
            raise InvalidArgument(f"label {key!r}: the prefixes {', '.join(RESERVED_LABEL_PREFIXES)} are reserved")
        if len(key.encode(errors="surrogatepass")) + len(value.encode(errors="surrogatepass")) > MAX_LABEL_BYTES:
            raise InvalidArgument(f"label {key[:64]!r}: key and value together exceed {MAX_LABEL_BYTES} bytes")
