"""``pod run|ls|inspect|stop|rm|exec|logs``: Kubernetes-style pods through containerd's CRI
(managers.pods). Needs a containerd with its cri plugin on (docs/SCALE.md, Pods)."""

from __future__ import annotations

from typing import Any

from pouchsh.commands.common import one_or_all, stdio_of, targets
from pouchsh.signature import Example, Flag, Param, command

_CAT = "pod"
_POD = Param("pod", help="Pod name (or a CRI pod id)")
_FORCE_HELP = "Also act on a pod pouchsh did not make (one a kubelet runs)"


@command(
    "pod run",
    help="Run a pod: a sandbox with its own network (CNI) and a container named like the pod",
    description=(
        "Images come from containerd's k8s.io namespace, where the CRI looks for them. The sandbox (pause) "
        "image is built from the host's busybox when missing. Each --container 'IMAGE [ARGS...]' adds a "
        "container (named NAME-2, NAME-3 ...); all share the pod's network."
    ),
    params=[
        Param("image", type="image", help="The first container's image"),
        Param("command", rest=True, required=False, help="Its command and arguments"),
    ],
    flags=[
        Flag("name", type="string", help="Pod name (also its first container's and its host name)"),
        Flag("container", type="string", repeat=True, help="Add a container: 'IMAGE [ARGS...]'"),
        Flag("env", short="e", type="string", repeat=True, help="Environment variable KEY=VALUE"),
        Flag("memory", short="m", type="size", help="Memory limit of each container"),
        Flag("cpus", type="number", help="CPUs of each container (1.5)"),
        Flag("hostname", type="string", help="Host name (default: the pod name)"),
        Flag("host-network", help="Use the host's network instead of a pod network"),
        Flag("publish", short="p", type="string", repeat=True,
             help="Publish a port: [IP:][HOST:]CONTAINER[/PROTO] (CNI portmap; HOST omitted: a free one)"),
    ],
    examples=[
        Example("pod run --name web busybox httpd -f -p 8080", "A pod named web serving HTTP"),
        Example("pod run --name site -p 127.0.0.1:8081:80 busybox httpd -f", "Its port 80 on the host's 127.0.0.1:8081"),
        Example("pod run --name app --container 'busybox sleep 600' busybox httpd -f", "Two containers in one pod"),
    ],
    interspersed=False,
    category=_CAT,
)
def pod_run(ctx: Any, image: str, command: list[str], name: str | None, container: list[str], env: list[str],
            memory: int | None, cpus: float | None, hostname: str | None, host_network: bool,
            publish: list[str]) -> dict[str, Any]:
    if not name:
        from ctrd.errors import InvalidArgument

        raise InvalidArgument("pod run: --name is required (it names the pod and its first container)")
    return ctx.managers.pods.run(  # type: ignore[no-any-return]
        name, image, command, containers=container, env=env, memory=memory, cpus=cpus,
        host_network=host_network, hostname=hostname, publish=publish,
    )


@command(
    "pod ls",
    help="List pods (those pouchsh made; -a: every CRI pod on this containerd, a kubelet's too)",
    aliases=["pod list"],
    flags=[Flag("all", short="a", help="Every pod the CRI knows"), Flag("quiet", short="q", help="Only names")],
    examples=[Example("pod ls", "pouchsh's pods"), Example("pod ls -a | where pouchsh == false", "What Kubernetes runs")],
    category=_CAT,
)
def pod_ls(ctx: Any, all: bool, quiet: bool) -> list[Any]:
    rows = ctx.managers.pods.list(all=all)
    return [r["name"] for r in rows] if quiet else rows


@command(
    "pod inspect",
    help="A pod: its status, IP, labels and containers",
    params=[Param("pods", rest=True, help="Pod names or ids")],
    examples=[Example("pod inspect web | get ip", "The pod's IP")],
    input="any",
    category=_CAT,
)
def pod_inspect(ctx: Any, pods: list[str]) -> Any:
    refs = targets(ctx, pods, "pod", keys=("id", "name"))
    return one_or_all([ctx.managers.pods.inspect(r) for r in refs], bool(pods) or isinstance(ctx.input, dict))


@command(
    "pod stop",
    help="Stop pods: their containers, then the sandbox (its network is released)",
    params=[Param("pods", rest=True, help="Pod names or ids")],
    flags=[Flag("time", short="t", type="int", default=10, help="Seconds before SIGKILL"),
           Flag("force", help=_FORCE_HELP)],
    examples=[Example("pod stop web", "Stop web")],
    input="any",
    category=_CAT,
)
def pod_stop(ctx: Any, pods: list[str], time: int, force: bool) -> Any:
    refs = targets(ctx, pods, "pod", keys=("id", "name"))
    return one_or_all([ctx.managers.pods.stop(r, timeout=time, force=force) for r in refs], bool(pods))


@command(
    "pod rm",
    help="Remove pods and their containers",
    aliases=["pod remove"],
    params=[Param("pods", rest=True, help="Pod names or ids")],
    flags=[Flag("force", short="f", help="Remove running pods too, and pods pouchsh did not make")],
    examples=[Example("pod rm -f web", "Remove web, running or not")],
    input="any",
    category=_CAT,
)
def pod_rm(ctx: Any, pods: list[str], force: bool) -> list[str]:
    refs = targets(ctx, pods, "pod", keys=("id", "name"))
    return [ctx.managers.pods.remove(r, force=force, foreign=force) for r in refs]


@command(
    "pod exec",
    help="Run a command in a pod's container and wait for it; {exit_code, stdout, stderr}",
    description=(
        "Without -i/-t the CRI's ExecSync runs it and its output is the record. With -i (stdin forwarded) or "
        "-t (a terminal) it is attached like exec's: the result is null and $status its exit status."
    ),
    params=[_POD, Param("command", rest=True, help="Command and arguments")],
    flags=[
        Flag("container", short="c", type="string", help="Which container (default: the one named like the pod)"),
        Flag("timeout", type="int", default=60, help="Seconds before the command is killed (without -i/-t)"),
        Flag("interactive", short="i", help="Forward stdin"),
        Flag("tty", short="t", help="Allocate a pseudo-terminal"),
    ],
    examples=[Example("pod exec web hostname", "The pod's host name"),
              Example("pod exec web cat /etc/resolv.conf | get stdout", "Its DNS settings"),
              Example("pod exec -it web sh", "A shell in web's container")],
    interspersed=False,
    category=_CAT,
)
def pod_exec(ctx: Any, pod: str, command: list[str], container: str | None, timeout: int, interactive: bool,
             tty: bool) -> dict[str, Any] | None:
    if interactive or tty:
        from ctrd.errors import InvalidArgument
        stdio = stdio_of(ctx)
        if tty and interactive and stdio.terminal is None:
            raise InvalidArgument("the input device is not a TTY: drop -t, or run from a terminal")
        ctx.set_status(ctx.managers.pods.exec_attached(pod, command, stdio=stdio, container=container,
                                                       interactive=interactive, tty=tty))
        return None
    result = ctx.managers.pods.exec(pod, command, container=container, timeout=timeout)
    ctx.set_status(result["exit_code"])
    return result  # type: ignore[no-any-return]


@command(
    "pod logs",
    help="A pod container's output, as the CRI logged it",
    params=[_POD],
    flags=[Flag("container", short="c", type="string", help="Which container (default: the one named like the pod)")],
    examples=[Example("pod logs web", "What web printed")],
    category=_CAT,
)
def pod_logs(ctx: Any, pod: str, container: str | None) -> str:
    return ctx.managers.pods.logs(pod, container=container)  # type: ignore[no-any-return]
