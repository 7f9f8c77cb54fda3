"""Which module declares each command that pouchsh.commands defers (pouchsh.signature.CommandTable.defer).

The table imports a module when one of its names is first looked up. tests/lang/test_command_index.py
fails when this disagrees with the modules' declarations and prints the literal to put here.
"""

from __future__ import annotations

#: module -> the names (aliases included) its declarations add
DECLARES: dict[str, tuple[str, ...]] = {
    "pouchsh.commands.checkpoints": (
        "checkpoint create", "checkpoint list", "checkpoint ls", "checkpoint remove", "checkpoint rm",
    ),
    "pouchsh.commands.compose": (
        "compose config", "compose down", "compose logs", "compose ps", "compose pull", "compose restart",
        "compose stop", "compose up",
    ),
    "pouchsh.commands.containers": (
        "container cp", "container create", "container exec", "container inspect", "container kill",
        "container list", "container logs", "container ls", "container pause", "container port",
        "container prune", "container ps", "container remove", "container rename", "container restart",
        "container rm", "container run", "container start", "container stop", "container top",
        "container unpause", "container update", "container wait", "cp", "create", "exec", "inspect", "kill",
        "logs", "pause", "port", "ps", "rename", "restart", "rm", "run", "start", "stop", "top", "unpause",
        "update", "wait",
    ),
    "pouchsh.commands.contexts": (
        "context create", "context inspect", "context list", "context ls", "context remove", "context rm",
        "context use",
    ),
    "pouchsh.commands.health": (
        "container health", "health check",
    ),
    "pouchsh.commands.images": (
        "commit", "container commit", "history", "image history", "image import", "image inspect",
        "image list", "image load", "image ls", "image prune", "image pull", "image push", "image remove",
        "image rm", "image save", "image tag", "images", "import", "load", "login", "logout", "pull", "push",
        "registry insecure", "rmi", "save", "tag",
    ),
    "pouchsh.commands.inspection": (
        "attach", "container attach", "container diff", "container export", "container stats", "diff",
        "export", "stats",
    ),
    "pouchsh.commands.lxcfs": (
        "system lxcfs",
    ),
    "pouchsh.commands.networks": (
        "network connect", "network create", "network disconnect", "network inspect", "network list",
        "network ls", "network prune", "network remove", "network rm",
    ),
    "pouchsh.commands.pods": (
        "pod exec", "pod inspect", "pod list", "pod logs", "pod ls", "pod remove", "pod rm", "pod run",
        "pod stop",
    ),
    "pouchsh.commands.system": (
        "events", "info", "namespace create", "namespace list", "namespace ls", "namespace remove",
        "namespace rm", "namespace use", "system containerd", "system df", "system events", "system info",
        "system prune", "version",
    ),
    "pouchsh.commands.upgrade": (
        "upgrade",
    ),
    "pouchsh.commands.volumes": (
        "volume create", "volume inspect", "volume list", "volume ls", "volume prune", "volume remove",
        "volume rm",
    ),
}
