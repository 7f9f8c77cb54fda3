"""Declarations of the container commands, each bound to one ``ContainerManager`` method.

``create run start stop restart kill pause unpause rm ps inspect logs exec wait rename top port update
prune cp``, with docker's flag spellings, also as ``container VERB`` (and ``container ls``/``list``/``ps``).
Verbs that act on containers take them as arguments or from the pipeline (records with an ``id``, or
strings): ``ps -a | where status == exited | rm``. Given one container as an argument they return its
record; given several, or input, a table. Records are documented in docs/commands/containers.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ctrd.errors import Interrupted, PouchError
from pouchsh import listings
from pouchsh.commands.common import one_or_all, stdio_of, targets
from pouchsh.commands.health import HEALTH_FLAGS
from pouchsh.signature import Example, Flag, Param, command
from pouchsh.values import Stream
from pouchsh.views import FORMAT, INSPECT_FORMAT, show_given, show_id, show_nothing

__all__: list[str] = []

_CAT = "container"


def _aliases(name: str, *more: str) -> list[str]:
    return [f"container {name}", *more]


def _refs(ctx: Any, given: list[str]) -> tuple[list[str], bool]:
    """Containers from the arguments, else the piped input; and whether exactly one was named directly."""
    return targets(ctx, given, "container", keys=("id", "name")), len(given or ()) == 1


@contextmanager
def _docker_status() -> Iterator[None]:
    """docker's exit status 125 for an error of ``run``, ``create``, ``start`` or ``exec``: the command
    failed before the container's command ran (an image not found, a name taken, a bad option, a
    containerd error) or while waiting for it (pouchsh.session.exit_code). An error that already has
    a status keeps it (126 and 127 from managers.launch); Ctrl-C stays 130."""
    try:
        yield
    except PouchError as err:
        if err.exit_status is None and not isinstance(err, Interrupted):
            err.exit_status = 125
        raise


# -- create / run ----------------------------------------------------------------------------------

_CREATE_FLAGS = [
    Flag("name", type="string", help="Container name ([a-zA-Z0-9][a-zA-Z0-9_.-]*)"),
    Flag("interactive", short="i", help="Keep stdin open and forward it"),
    Flag("tty", short="t", help="Allocate a pseudo-terminal"),
    Flag("rm", help="Remove the container when it exits"),
    Flag("env", short="e", type="string", repeat=True, help="Set an environment variable (KEY=VALUE, or KEY from here)"),
    Flag("env-file", type="path", repeat=True, help="Read environment variables from a file"),
    Flag("label", short="l", type="string", repeat=True, help="Set metadata (KEY=VALUE)"),
    Flag("workdir", short="w", type="string", help="Working directory inside the container"),
    Flag("user", short="u", type="string", help="User: name|uid[:group|gid]"),
    Flag("entrypoint", type="string", help="Override the image's entrypoint (\"\" clears it)"),
    Flag("hostname", type="string", help="Container host name (default: the short id)"),
    Flag("restart", type="string", default="no",
         help="Restart policy: no, always, unless-stopped (on-failure needs a newer containerd)"),
    Flag("stop-signal", type="string", help="Signal that stops the container (default: the image's, or SIGTERM)"),
    Flag("stop-timeout", type="int", help="Seconds to wait after the stop signal before SIGKILL (default 10)"),
    Flag("read-only", help="Mount the root filesystem read-only"),
    Flag("privileged", help="All capabilities, all devices, no masked paths"),
    Flag("cap-add", type="string", repeat=True, help="Add a Linux capability (NET_ADMIN, ALL ...)"),
    Flag("cap-drop", type="string", repeat=True, help="Drop a Linux capability"),
    Flag("memory", short="m", type="size", help="Memory limit (64m, 1g, 512MiB)"),
    Flag("cpus", type="number", help="Number of CPUs (1.5)"),
    Flag("pids-limit", type="int", help="Maximum number of processes (-1: unlimited)"),
    Flag("ulimit", type="string", repeat=True, help="Resource limit NAME=SOFT[:HARD] (nofile=1024:2048)"),
    Flag("shm-size", type="size", help="Size of /dev/shm (default 64m)"),
    Flag("init", help="Run an init (tini/docker-init from the host) as PID 1"),
    Flag("runtime", type="string", help="Runtime: runc, io.containerd.runc.v2, or a path to an OCI runtime binary"),
    Flag("pull", type="string", default="missing", choices=("always", "missing", "never"), help="Pull the image: always, missing, never"),
    Flag("log-opt", type="string", repeat=True, help="Log option: max-size=SIZE, max-file=N"),
    Flag("annotation", type="string", repeat=True, help="OCI annotation (KEY=VALUE)"),
    Flag("volume", short="v", type="string", repeat=True, complete="volume", help="Bind or volume: [SRC:]DST[:ro|rw]"),
    Flag("mount", type="string", repeat=True, help="Mount: type=bind|volume|tmpfs,source=..,target=..[,readonly]"),
    Flag("tmpfs", type="string", repeat=True, help="tmpfs mount: DST[:OPTIONS]"),
    Flag("volumes-from", type="string", repeat=True, complete="container", help="Mount the volumes of another container (NAME[:ro|rw])"),
    Flag("publish", short="p", type="string", repeat=True, help="Publish a port: [IP:][HOST:]CONTAINER[/PROTO]"),
    Flag("publish-all", short="P", help="Publish every exposed port to a free host port"),
    Flag("network", type="string", default="bridge", aliases=("net",), complete="network", help="Network: bridge, NAME, host, none, container:NAME"),
    Flag("ip", type="string", help="IPv4 address on the network"),
    Flag("dns", type="string", repeat=True, help="DNS server"),
    Flag("add-host", type="string", repeat=True, help="Add HOST:IP to /etc/hosts"),
    Flag("label-file", type="path", repeat=True, help="Read labels from a file (KEY=VALUE a line)"),
    Flag("device", type="string", repeat=True, help="A host device: HOST[:CONTAINER][:PERMS rwm] (/dev/zero:/dev/myzero:r)"),
    Flag("security-opt", type="string", repeat=True,
         help="no-new-privileges[:true], seccomp=unconfined|PROFILE.json, apparmor=PROFILE, label=disable"),
    Flag("sysctl", type="string", repeat=True, help="A namespaced kernel parameter KEY=VALUE (net.*, kernel.shm*, kernel.msg*, fs.mqueue.*)"),
    Flag("pid", type="string", help="PID namespace: host (the default is the container's own)"),
    Flag("ipc", type="string", help="IPC namespace: private (default), shareable, host, container:NAME; a joiner shares the donor's /dev/shm, host the host's"),
    Flag("cpuset-cpus", type="string", help="CPUs the container may run on (0-1,3)"),
    Flag("cpu-shares", short="c", type="int", help="Relative CPU weight (default 1024)"),
    Flag("group-add", type="string", repeat=True, help="An extra group of the process: a gid, or a name in the image's /etc/group"),
    Flag("oom-score-adj", type="int", help="The OOM killer's preference, -1000 to 1000 (lowering it needs CAP_SYS_RESOURCE)"),
    Flag("memory-swap", type="any", help="Memory plus swap limit (needs -m; -1: unlimited swap)"),
    Flag("memory-reservation", type="size", help="Memory soft limit (reclaimed down to it under pressure)"),
    *HEALTH_FLAGS,
    # lxcfs (managers.lxcfs): the flag, else the settings file's enable-lxcfs (see _options)
    Flag("enable-lxcfs", help="The container's own /proc/meminfo, cpuinfo, stat, uptime ... (lxcfs)"),
]

_CREATE_PARAMS = [
    Param("image", type="image", help="Image to run"),
    Param("command", type="string", required=False, rest=True, help="Command and arguments (default: the image's)"),
]


def _options(ctx: Any, image: str, command: list[str], kw: dict[str, Any]) -> Any:
    from managers.options import CreateOptions

    return CreateOptions.parse(
        image,
        list(command or []),
        environ=ctx.env,
        cwd=ctx.cwd,
        env=kw.pop("env"),
        env_file=kw.pop("env_file"),
        label=kw.pop("label"),
        annotation=kw.pop("annotation"),
        entrypoint=kw.pop("entrypoint"),
        restart=kw.pop("restart"),
        stop_signal=kw.pop("stop_signal"),
        stop_timeout=kw.pop("stop_timeout"),
        memory=kw.pop("memory"),
        cpus=kw.pop("cpus"),
        pids_limit=kw.pop("pids_limit"),
        ulimit=kw.pop("ulimit"),
        shm_size=kw.pop("shm_size"),
        init=kw.pop("init"),
        runtime=kw.pop("runtime"),
        pull=kw.pop("pull"),
        log_opt=kw.pop("log_opt"),
        volumes=kw.pop("volume"),
        mounts=kw.pop("mount"),
        add_host=kw.pop("add_host"),
        enable_lxcfs=kw.pop("enable_lxcfs") or _lxcfs_default(ctx),
        **kw,
    )


def _lxcfs_default(ctx: Any) -> bool:
    from managers.config import load

    return load(ctx.env).enable_lxcfs


@command(
    "create",
    help="Create a container without starting it",
    params=_CREATE_PARAMS,
    flags=_CREATE_FLAGS,
    examples=[
        Example("create --name web busybox httpd -f -p 80", "Create a web server container"),
        Example("create -e A=1 --label tier=db busybox env", "With an environment variable and a label"),
    ],
    aliases=_aliases("create"),
    category=_CAT,
    interspersed=False,    show=show_id,
)
def container_create(ctx: Any, image: str, command: list[str], **kw: Any) -> dict[str, Any]:
    with _docker_status():
        return ctx.unsettled_managers.containers.create(_options(ctx, image, command, kw))


@command(
    "run",
    help="Create and start a container",
    description=(
        "Without -d, the container's output streams here as it comes (and into its log), -i forwards "
        "stdin, -t gives it a terminal; the result is null and $status (and pouchsh -c's exit code) is "
        "the container's exit status. Ctrl-C sends the container its stop signal. With -d the result "
        "is the container's record. A container that cannot start is removed again. With --rm the "
        "container is removed once it exits; in a script that removal goes on while the next statement "
        "runs, and a statement that reads containers, volumes, images or networks waits for it."
    ),
    params=_CREATE_PARAMS,
    flags=[Flag("detach", short="d", help="Run in the background and return the container's record"), *_CREATE_FLAGS],
    examples=[
        Example("run busybox echo hello", "Run a command and see its output"),
        Example("run -d --name web -p 8080:80 busybox httpd -f -p 80", "A detached web server"),
        Example("run --rm -it busybox sh", "An interactive shell, removed on exit"),
        Example("run --rm --device /dev/zero:/dev/myzero:r busybox head -c 4 /dev/myzero", "A host device, read-only"),
        Example("run --rm --security-opt no-new-privileges busybox id", "No privilege gains through setuid files"),
        Example("run --rm --sysctl net.ipv4.ip_forward=1 busybox cat /proc/sys/net/ipv4/ip_forward", "A namespaced sysctl"),
        Example("run --rm --pid host busybox ps", "See the host's processes"),
        Example("run -d --name shm --ipc shareable busybox sleep 60", "An IPC namespace others may join (--ipc container:shm)"),
        Example("run --rm --ipc container:shm busybox ls /dev/shm", "Join it: its IPC namespace and its /dev/shm"),
        Example("run --rm --cpuset-cpus 0 --cpu-shares 512 busybox true", "Pinned to CPU 0, half the default weight"),
        Example("run --rm --group-add 1234 -u 1000 busybox id", "An extra group"),
        Example("run --rm --label-file ./labels busybox true", "Labels from a file"),
        Example("run --rm --oom-score-adj 500 busybox cat /proc/self/oom_score_adj", "Killed first when memory runs out"),
        Example("run --rm -m 64m --memory-swap 128m --memory-reservation 32m busybox true", "Memory, swap and a soft limit"),
    ],
    aliases=_aliases("run"),
    category=_CAT,
    interspersed=False,    show=show_id,
)
def container_run(ctx: Any, image: str, command: list[str], detach: bool, **kw: Any) -> Any:
    from ctrd.errors import InvalidArgument

    with _docker_status():
        opts = _options(ctx, image, command, kw)
        if detach:
            return ctx.unsettled_managers.containers.run(opts, detach=True)
        stdio = stdio_of(ctx)
        if opts.tty and opts.interactive and stdio.terminal is None:
            raise InvalidArgument("the input device is not a TTY: drop -t, or run from a terminal")
        code = ctx.unsettled_managers.containers.run(opts, detach=False, stdio=stdio, remove_later=True)
    ctx.set_status(code)
    return None


# -- start / stop / kill / pause ----------------------------------------------------------------------

_MANY = Param("containers", type="container", required=False, rest=True, help="Containers (names, ids or id prefixes)")


@command(
    "start",
    help="Start one or more created or stopped containers",
    params=[_MANY],
    flags=[
        Flag("attach", short="a", help="Attach to the output and wait for the exit (one container)"),
        Flag("interactive", short="i", help="Attach stdin too (one container)"),
        # checkpoints (managers.checkpoints, pouchsh/commands/checkpoints.py)
        Flag("checkpoint", type="string", help="Restore from this checkpoint (checkpoint create)"),
    ],
    examples=[Example("start web", "Start the container web"), Example("ps -a | where status == exited | start", "Start every exited container"),
              Example("start --checkpoint before web", "Start web from its checkpoint before")],
    aliases=_aliases("start"),
    input="any",
    category=_CAT,    show=show_given("containers"),
)
def container_start(ctx: Any, containers: list[str], attach: bool, interactive: bool, checkpoint: str | None) -> Any:
    with _docker_status():
        refs, single = _refs(ctx, containers)
        if checkpoint is not None:
            return one_or_all([ctx.managers.checkpoints.restore(r, checkpoint) for r in refs], single)
        if attach or interactive:
            code = ctx.managers.containers.start(refs, attach=True, interactive=interactive, stdio=stdio_of(ctx))
            ctx.set_status(code)
            return None
        return one_or_all(ctx.managers.containers.start(refs), single)


@command(
    "stop",
    help="Stop running containers (stop signal, then SIGKILL after the timeout)",
    params=[_MANY],
    flags=[
        Flag("time", short="t", type="int", help="Seconds to wait before SIGKILL (default: the container's, 10)"),
        Flag("signal", short="s", type="string", help="Signal to send instead of the container's stop signal"),
    ],
    examples=[Example("stop web", "Stop web"), Example("ps | stop -t 2", "Stop everything running, 2 s grace")],
    aliases=_aliases("stop"),
    input="any",
    category=_CAT,    show=show_given("containers"),
)
def container_stop(ctx: Any, containers: list[str], time: int | None, signal: str | None) -> Any:
    refs, single = _refs(ctx, containers)
    return one_or_all(ctx.managers.containers.stop(refs, timeout=time, signal=signal), single)


@command(
    "restart",
    help="Stop and start containers again",
    params=[_MANY],
    flags=[Flag("time", short="t", type="int", help="Seconds to wait before SIGKILL")],
    examples=[Example("restart web", "Restart web")],
    aliases=_aliases("restart"),
    input="any",
    category=_CAT,    show=show_given("containers"),
)
def container_restart(ctx: Any, containers: list[str], time: int | None) -> Any:
    refs, single = _refs(ctx, containers)
    return one_or_all(ctx.managers.containers.restart(refs, timeout=time), single)


@command(
    "kill",
    help="Send a signal to containers' main processes (default SIGKILL)",
    params=[_MANY],
    flags=[Flag("signal", short="s", type="string", default="SIGKILL", help="Signal name or number")],
    examples=[Example("kill web", "Kill web"), Example("kill -s HUP web", "Send SIGHUP")],
    aliases=_aliases("kill"),
    input="any",
    category=_CAT,    show=show_given("containers"),
)
def container_kill(ctx: Any, containers: list[str], signal: str) -> Any:
    refs, single = _refs(ctx, containers)
    return one_or_all(ctx.managers.containers.kill(refs, signal=signal), single)


@command(
    "pause",
    help="Freeze all processes of containers",
    params=[_MANY],
    examples=[Example("pause web", "Pause web")],
    aliases=_aliases("pause"),
    input="any",
    category=_CAT,    show=show_given("containers"),
)
def container_pause(ctx: Any, containers: list[str]) -> Any:
    refs, single = _refs(ctx, containers)
    return one_or_all(ctx.managers.containers.pause(refs), single)


@command(
    "unpause",
    help="Thaw paused containers",
    params=[_MANY],
    examples=[Example("unpause web", "Unpause web")],
    aliases=_aliases("unpause"),
    input="any",
    category=_CAT,    show=show_given("containers"),
)
def container_unpause(ctx: Any, containers: list[str]) -> Any:
    refs, single = _refs(ctx, containers)
    return one_or_all(ctx.managers.containers.unpause(refs), single)


@command(
    "rm",
    help="Remove containers (their logs and snapshot too)",
    params=[_MANY],
    flags=[
        Flag("force", short="f", help="Kill and remove running containers"),
        Flag("volumes", short="v", help="Also remove their anonymous volumes"),
    ],
    examples=[
        Example("rm web", "Remove the stopped container web"),
        Example("rm -f web", "Remove web even if it runs"),
        Example("ps -a | where status == exited | rm", "Remove every exited container"),
    ],
    aliases=_aliases("rm", "container remove"),
    input="any",
    category=_CAT,    show=show_given("containers"),
)
def container_rm(ctx: Any, containers: list[str], force: bool, volumes: bool) -> Any:
    refs, single = _refs(ctx, containers)
    return one_or_all(ctx.managers.containers.remove(refs, force=force, volumes=volumes), single)


# -- queries ---------------------------------------------------------------------------------------


@command(
    "ps",
    help="List containers (running ones; -a for all)",
    flags=[
        Flag("all", short="a", help="All containers, not only running ones"),
        Flag("quiet", short="q", help="Only ids"),
        Flag("last", short="n", type="int", help="The N most recently created (any state)"),
        Flag("latest", short="l", help="The most recently created (any state)"),
        Flag("filter", short="f", type="string", repeat=True,
             help="id=, name=, label=KEY[=VALUE], status=, ancestor=, exited=CODE, volume=, network=, before=, since="),
        Flag("no-trunc", help="Full ids and commands in the table and with -q"),
        FORMAT,
    ],
    examples=[
        Example("ps", "Running containers"),
        Example("ps -a | where status == exited", "Exited containers"),
        Example("ps -a --filter label=tier=db -q", "Ids of the containers labelled tier=db"),
        Example("ps -a --format '{{.ID}}\\t{{.Names}}\\t{{.Status}}'", "docker's --format: one line each"),
        Example("ps -a --format 'table {{.Names}}\\t{{.Image}}'", "A table of chosen columns"),
        Example("ps -a --format '{{json .}}'", "docker's fields as JSON, one container per line"),
    ],
    aliases=_aliases("ls", "container list", "container ps"),
    category=_CAT,
    view=listings.PS,
)
def container_ps(ctx: Any, all: bool, quiet: bool, last: int | None, latest: bool, filter: list[str], no_trunc: bool) -> list[Any]:
    # The records keep full ids (`ps | get id`); the table and -q shorten them, as docker does.
    records = ctx.managers.containers.list(all=all, last=last, latest=latest, filters=filter, no_trunc=True)
    if quiet:
        return [r["id"] if no_trunc else r["id"][:12] for r in records]
    return records


@command(
    "inspect",
    help="Everything about containers: the ps record plus times, process, log path and OCI spec",
    params=[_MANY],
    flags=[INSPECT_FORMAT],
    examples=[
        Example("inspect web", "Inspect web"),
        Example("inspect web | get spec.process.args", "The command line"),
        Example("inspect --format '{{.State.Status}} {{.State.ExitCode}}' web", "docker's inspect fields"),
    ],
    aliases=_aliases("inspect"),
    input="any",
    category=_CAT,
    view=listings.CONTAINER_INSPECT,
)
def container_inspect(ctx: Any, containers: list[str]) -> Any:
    refs, single = _refs(ctx, containers)
    return one_or_all([ctx.managers.containers.inspect(r) for r in refs], single)


@command(
    "logs",
    help="A container's output (stdout and stderr) from its log",
    description=(
        "Without -f the result is the text; with -f a stream of lines that ends when the container stops "
        "(or on Ctrl-C). --since/--until take a duration back from now (10m), a unix time or an RFC 3339 time."
    ),
    params=[Param("container", type="container", help="Container")],
    flags=[
        Flag("follow", short="f", help="Keep following new output"),
        Flag("tail", short="n", type="string", default="all", help="Only the last N lines (or all)"),
        Flag("since", type="any", help="Only output since this time"),
        Flag("until", type="any", help="Only output before this time"),
        Flag("timestamps", short="t", help="Prefix each line with its RFC 3339 time"),
    ],
    examples=[
        Example("logs web", "All of web's output"),
        Example("logs -n 10 -t web", "The last 10 lines, timestamped"),
        Example("logs --since 5m web | lines | where $it =~ error", "Lines with 'error' from the last 5 minutes"),
    ],
    aliases=_aliases("logs"),
    category=_CAT,
)
def container_logs(ctx: Any, container: str, follow: bool, tail: str, since: Any, until: Any, timestamps: bool) -> Any:
    from ctrd.errors import InvalidArgument

    if tail in (None, "all", "-1"):
        n = None
    else:
        try:
            n = int(str(tail))
        except ValueError:
            raise InvalidArgument(f"--tail {tail!r}: expected a number or all") from None
    result = ctx.managers.containers.logs(
        container, follow=follow, tail=n, since=since, until=until, timestamps=timestamps, cancel=ctx.cancel
    )
    if follow:
        return Stream(result, close=getattr(result, "close", None))
    return result.removesuffix("\n")


@command(
    "wait",
    help="Block until containers exit (their exit statuses), or with --condition healthy until they are healthy",
    params=[_MANY],
    flags=[
        Flag("condition", type="string", default="not-running", choices=("not-running", "healthy"),
             help="not-running: wait for the exit; healthy: run the healthchecks until they pass (the records)"),
        Flag("timeout", type="duration", help="With --condition healthy: give up after this long"),
    ],
    examples=[
        Example("wait job", "The exit status of job, once it ends"),
        Example("run -d --name db --health-cmd 'test -e /bin/sh' --health-interval 1s busybox sleep 60; "
                "wait --condition healthy --timeout 1m db | get health", "Wait until db is healthy"),
    ],
    aliases=_aliases("wait"),
    input="any",
    category=_CAT,
)
def container_wait(ctx: Any, containers: list[str], condition: str, timeout: Any) -> Any:
    refs, single = _refs(ctx, containers)
    if condition == "healthy":
        seconds = None if timeout is None else int(timeout) / 1e9
        return one_or_all(ctx.managers.health.wait(refs, timeout=seconds, cancel=ctx.cancel), single)
    codes = ctx.managers.containers.wait(refs, cancel=ctx.cancel)
    if codes:
        ctx.set_status(codes[-1])
    return one_or_all(codes, single)


@command(
    "rename",
    help="Rename a container",
    params=[Param("container", type="container", help="Container"), Param("new-name", help="New name")],
    examples=[Example("rename web web-old", "web is now web-old")],
    aliases=_aliases("rename"),
    category=_CAT,
    show=show_nothing,
)
def container_rename(ctx: Any, container: str, new_name: str) -> dict[str, Any]:
    return ctx.managers.containers.rename(container, new_name)


@command(
    "top",
    help="The processes running in a container, as docker's: UID PID PPID C STIME TTY TIME CMD (ps -ef)",
    description=(
        "Read from the host's /proc for the container's pids (nothing runs in the container). The records "
        "have the fields uid pid ppid c stime tty time cmd, numbers as numbers; UID is the number, as the "
        "host's name for it says nothing of the container's users. With ps options the table is the host's "
        "ps output for the container's processes."
    ),
    params=[
        Param("container", type="container", help="Container"),
        Param("ps-options", required=False, rest=True, help="Options for the host's ps (must show PID)"),
    ],
    examples=[Example("top web", "web's processes"), Example("top web -o pid,comm", "Chosen ps columns"),
              Example("top web | where ppid != 1 | get cmd", "The records are typed: filter on numbers")],
    aliases=_aliases("top"),
    category=_CAT,
    interspersed=False,
    view=listings.TOP,
)
def container_top(ctx: Any, container: str, ps_options: list[str]) -> list[dict[str, Any]]:
    return ctx.managers.containers.top(container, list(ps_options or []))


@command(
    "port",
    help="A container's published ports",
    params=[
        Param("container", type="container", help="Container"),
        Param("private-port", required=False, help="Only this PORT[/PROTO]"),
    ],
    examples=[Example("port web", "All of web's published ports"), Example("port web 80/tcp", "Where web's port 80 is")],
    aliases=_aliases("port"),
    category=_CAT,
)
def container_port(ctx: Any, container: str, private_port: str | None) -> list[dict[str, Any]]:
    return ctx.managers.containers.port(container, private_port)


@command(
    "update",
    help="Change containers' resource limits or restart policy",
    params=[_MANY],
    flags=[
        Flag("memory", short="m", type="size", help="Memory limit"),
        Flag("cpus", type="number", help="Number of CPUs"),
        Flag("pids-limit", type="int", help="Maximum number of processes"),
        Flag("restart", type="string", help="Restart policy: no, always, unless-stopped"),
    ],
    examples=[Example("update --memory 256m --cpus 1 web", "New limits for web, applied at once")],
    aliases=_aliases("update"),
    input="any",
    category=_CAT,
    show=show_given("containers"),
)
def container_update(ctx: Any, containers: list[str], memory: Any, cpus: Any, pids_limit: int | None, restart: str | None) -> Any:
    refs, single = _refs(ctx, containers)
    result = ctx.managers.containers.update(refs, memory=memory, cpus=cpus, pids_limit=pids_limit, restart=restart)
    return one_or_all(result, single)


@command(
    "container prune",
    help="Remove every stopped container",
    flags=[
        Flag("filter", type="string", repeat=True, help="label=KEY[=VALUE], until=TIME"),
        Flag("force", short="f", help="Do not ask (pouchsh never asks; accepted for docker's scripts)"),
    ],
    examples=[Example("container prune", "Remove all created and exited containers")],
    category=_CAT,
)
def container_prune(ctx: Any, filter: list[str], force: bool) -> dict[str, Any]:
    return ctx.managers.containers.prune(filters=filter)


@command(
    "exec",
    help="Run a command in a running container",
    description="The process starts from the container's own process spec (user, capabilities, limits). "
    "In the foreground the result is null and $status is its exit status; with -d its record.",
    params=[
        Param("container", type="container", help="Container"),
        Param("command", rest=True, help="Command and arguments"),
    ],
    flags=[
        Flag("detach", short="d", help="Run in the background"),
        Flag("interactive", short="i", help="Forward stdin"),
        Flag("tty", short="t", help="Allocate a pseudo-terminal"),
        Flag("env", short="e", type="string", repeat=True, help="Set an environment variable"),
        Flag("workdir", short="w", type="string", help="Working directory"),
        Flag("user", short="u", type="string", help="User: name|uid[:group|gid]"),
        Flag("privileged", help="Give the process every capability"),
    ],
    examples=[
        Example("exec web ls /", "List web's root directory"),
        Example("exec -it web sh", "A shell inside web"),
    ],
    aliases=_aliases("exec"),
    category=_CAT,
    interspersed=False,
)
def container_exec(
    ctx: Any, container: str, command: list[str], detach: bool, interactive: bool, tty: bool,
    env: list[str], workdir: str | None, user: str | None, privileged: bool,
) -> Any:
    from ctrd.errors import InvalidArgument
    from managers.options import parse_env

    with _docker_status():
        env_list = parse_env(list(env), ctx.env)
        manager = ctx.managers.containers
        if detach:
            return manager.exec(container, list(command), detach=True, tty=tty, env=env_list, workdir=workdir,
                                user=user, privileged=privileged)
        stdio = stdio_of(ctx)
        if tty and interactive and stdio.terminal is None:
            raise InvalidArgument("the input device is not a TTY: drop -t, or run from a terminal")
        code = manager.exec(container, list(command), interactive=interactive, tty=tty, env=env_list,
                            workdir=workdir, user=user, privileged=privileged, stdio=stdio)
    ctx.set_status(code)
    return None


@command(
    "cp",
    help="Copy files between a container and the host",
    description="One side is CONTAINER:PATH. A directory is copied recursively, its links as links (their "
    "targets unchanged); copying to an existing directory puts the source inside it. A failed copy leaves "
    "nothing behind. A stopped container's own filesystem is used (not its volumes). "
    "- as the host side is a tar stream on standard output, or read from standard input.",
    params=[Param("source", help="CONTAINER:PATH or a host path"), Param("destination", help="CONTAINER:PATH or a host path")],
    flags=[Flag("follow-link", short="L", help="Follow a symbolic link at the container's source path (inside the container)")],
    examples=[
        Example("cp web:/etc/hostname ./hostname", "Copy a file out of web"),
        Example("cp -L web:/etc/mtab ./mtab", "Copy what a link names (links under a directory stay links)"),
        Example("cp ./site web:/www", "Copy a directory into web's /www"),
        Example("cp web:/etc -", "web's /etc as a tar stream on standard output"),
    ],
    aliases=_aliases("cp"),
    category=_CAT,
)
def container_cp(ctx: Any, source: str, destination: str, follow_link: bool) -> dict[str, Any] | None:
    record = ctx.managers.containers.copy(source, destination, cwd=ctx.cwd, stdin=ctx.stdin, stdout=ctx.stdout,
                                          follow_link=follow_link)
    return None if destination == "-" else record  # nothing may follow the tar stream on stdout
