"""Declarations of the image commands, with docker's spellings: ``images pull push tag rmi load save import
history image inspect image prune login logout``.

Records are documented in docs/commands/images.md; the manager is ``managers.images.ImageManager``.
Sizes leave the manager as byte counts and become ``Size`` values here, so ``images | where size > 10MiB``
compares sizes.
"""

from __future__ import annotations

import os
from typing import IO, Any

from pouchsh.commands.common import one_or_all, targets
from pouchsh import listings
from pouchsh.signature import Example, Flag, Param, command
from pouchsh.values import Size
from pouchsh.views import FORMAT, INSPECT_FORMAT, show_login, show_nothing, show_pulled, show_removed_images

__all__: list[str] = []

_CAT = "image"
#: A piped image record names its image by name, or by id when it has none.
_KEYS = ("name", "id")
_CHANGE = Flag(
    "change", short="c", type="string", repeat=True,
    help="A Dockerfile instruction for the image's config: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER, WORKDIR, VOLUME, STOPSIGNAL",
)
_INSECURE = Flag(
    "insecure-registry",
    help="Allow plain HTTP (and untrusted TLS) to this registry; loopback registries are always allowed",
)


def _sized(record: dict[str, Any], *keys: str) -> dict[str, Any]:
    for key in keys or ("size",):
        if isinstance(record.get(key), int) and not isinstance(record.get(key), bool):
            record[key] = Size(record[key])
    return record


def _short(image_id: str) -> str:
    return image_id.removeprefix("sha256:")[:12]


_MAX_SIZE_HELP = (
    "Bound on what {what} may inflate to (default: 1 GiB or 100x its compressed size, whichever is "
    "larger); sparse members, and layers of more than a million members, are always refused"
)


def _open_input(ctx: Any, path: str | None) -> tuple[IO[bytes], bool]:
    """(stream, close it?) for a file name, or stdin for none or ``-``."""
    from ctrd.errors import InvalidArgument, NotFound

    if path in (None, "-"):
        if getattr(ctx.stdin, "isatty", lambda: False)():
            raise InvalidArgument("no archive given: use -i FILE or pipe one into stdin")
        return ctx.stdin, False
    full = os.path.join(ctx.cwd, path)
    try:
        return open(full, "rb"), True
    except FileNotFoundError:
        raise NotFound(f"no such file: {path}") from None
    except OSError as exc:
        raise InvalidArgument(f"cannot read {path}: {exc.strerror}") from None


@command(
    "images",
    help="List images",
    aliases=["image ls", "image list"],
    flags=[
        Flag("quiet", short="q", help="Only image ids"),
        Flag(
            "all",
            short="a",
            help="Show all images (containerd keeps no intermediate images: same as without)",
        ),
        Flag("digests", help="Show digests (every record carries its digest; kept for docker's spelling)"),
        Flag("no-trunc", help="Full ids in the table and with -q"),
        Flag(
            "filter",
            short="f",
            type="string",
            repeat=True,
            help="Filter: reference=PATTERN, label=KEY[=VALUE], dangling=true|false, before=IMAGE, since=IMAGE",
        ),
        FORMAT,
    ],
    examples=[
        Example("images", "Every image of the namespace"),
        Example("images | where size > 10MiB | select name size", "Large images"),
        Example("images --filter reference=busybox*", "Images whose name matches a pattern"),
        Example("images -q", "Short image ids"),
        Example("images --format '{{.Repository}}:{{.Tag}} {{.Size}}'", "docker's --format"),
    ],
    category=_CAT,
    view=listings.IMAGES,
)
def images(ctx: Any, quiet: bool, all: bool, digests: bool, no_trunc: bool, filter: list[str]) -> Any:
    records = ctx.managers.images.list(filters=filter)
    if quiet:
        ids: list[str] = []
        for r in records:
            shown = r["id"] if no_trunc else _short(r["id"])
            if shown not in ids:
                ids.append(shown)
        return ids
    return [_sized(r) for r in records]


@command(
    "image inspect",
    help="Show everything about images",
    params=[Param("image", type="image", rest=True, required=False, help="Image names or ids")],
    input="any",
    examples=[
        Example("image inspect busybox", "The record of busybox"),
        Example("image inspect busybox | get config.cmd", "Its default command"),
        Example("image inspect -f '{{json .Config.Cmd}}' busybox", "docker's inspect fields"),
    ],
    flags=[INSPECT_FORMAT],
    category=_CAT,
    view=listings.IMAGE_INSPECT,
)
def image_inspect(ctx: Any, image: list[str]) -> Any:
    refs = targets(ctx, image, "image", keys=_KEYS)
    records = [_sized(ctx.managers.images.inspect(ref)) for ref in refs]
    return one_or_all(records, len(image) <= 1)


@command(
    "history",
    help="Show the history of an image",
    aliases=["image history"],
    params=[Param("image", type="image", help="Image name or id")],
    flags=[Flag("quiet", short="q", help="Only layer ids"), Flag("no-trunc", help="Full ids and steps"), FORMAT],
    examples=[
        Example("history busybox", "How busybox was built, newest step first"),
        Example("history --format '{{.CreatedBy}}' busybox", "Only the steps"),
    ],
    category=_CAT,
    view=listings.HISTORY,
)
def history(ctx: Any, image: str, quiet: bool, no_trunc: bool) -> Any:
    rows = ctx.managers.images.history(image)
    if quiet:
        return [r["id"] if no_trunc or r["id"] == "<missing>" else _short(r["id"]) for r in rows]
    return [_sized(r) for r in rows]


@command(
    "tag",
    help="Give an image another name",
    aliases=["image tag"],
    params=[
        Param("source", type="image", help="Existing image name or id"),
        Param("target", help="New name, e.g. localhost:5000/app:1"),
    ],
    examples=[Example("tag busybox localhost:5000/tools/busybox:1", "Name busybox for a local registry")],
    category=_CAT,
    show=show_nothing,
)
def tag(ctx: Any, source: str, target: str) -> dict[str, Any]:
    return _sized(ctx.managers.images.tag(source, target))


@command(
    "rmi",
    help="Remove images",
    aliases=["image rm", "image remove"],
    params=[Param("image", type="image", rest=True, required=False, help="Image names or ids")],
    flags=[
        Flag("force", short="f", help="Remove also an image a container uses, or an id with several names")
    ],
    input="any",
    examples=[
        Example("rmi busybox", "Untag busybox; its content goes with its last name"),
        Example("images | where size > 100MiB | rmi", "Remove every large image"),
    ],
    category=_CAT,    show=show_removed_images,
)
def rmi(ctx: Any, image: list[str], force: bool) -> list[dict[str, Any]]:
    refs = targets(ctx, image, "image", keys=_KEYS)
    return ctx.managers.images.remove(refs, force=force) if refs else []


@command(
    "image prune",
    help="Remove unused images",
    flags=[
        Flag("all", short="a", help="Remove every image no container uses, not only unnamed ones"),
        Flag("force", short="f", help="Do not ask (pouchsh never asks; kept for docker's spelling)"),
    ],
    examples=[Example("image prune -a", "Remove every image no container uses")],
    category=_CAT,
)
def image_prune(ctx: Any, all: bool, force: bool) -> dict[str, Any]:
    return _sized(ctx.managers.images.prune(all=all), "reclaimed")


@command(
    "load",
    help="Load images from a Docker or OCI archive",
    aliases=["image load"],
    params=[Param("name", required=False, help="Name for images the archive leaves unnamed")],
    flags=[
        Flag("input", short="i", type="path", help="Archive file (default: stdin)"),
        Flag("quiet", short="q", help="Return only the names"),
        Flag(
            "max-size",
            type="size",
            help=_MAX_SIZE_HELP.format(what="a compressed archive or any of its layers"),
        ),
    ],
    examples=[
        Example("load -i busybox.tar", "Load every image in busybox.tar"),
        Example("load", "Load from pouchsh's standard input: pouchsh -c load < busybox.tar"),
    ],
    category=_CAT,
)
def load(ctx: Any, name: str | None, input: str | None, quiet: bool, max_size: Any) -> Any:
    stream, owned = _open_input(ctx, input)
    try:
        records = ctx.managers.images.load(
            stream, name=name, cancel=ctx.cancel, max_size=int(max_size) if max_size is not None else None
        )
    finally:
        if owned:
            stream.close()
    return [r["name"] for r in records] if quiet else [_sized(r) for r in records]


@command(
    "save",
    help="Save images to an archive that docker load and ctr images import accept",
    aliases=["image save"],
    params=[Param("image", type="image", rest=True, help="Images to save")],
    flags=[
        Flag("output", short="o", type="path", help="Write to this file (default: stdout, unless a terminal)")
    ],
    examples=[Example("save -o busybox.tar busybox", "Save busybox to busybox.tar")],
    category=_CAT,
)
def save(ctx: Any, image: list[str], output: str | None) -> dict[str, Any] | None:
    from ctrd.errors import InvalidArgument

    manager = ctx.managers.images
    if output:
        return _sized(manager.save(image, path=os.path.join(ctx.cwd, output), cancel=ctx.cancel))
    if ctx.is_terminal:
        raise InvalidArgument("refusing to write an archive to a terminal: use -o FILE or redirect stdout")
    manager.save(image, stream=ctx.stdout, cancel=ctx.cancel)
    return None


@command(
    "import",
    help="Make a one-layer image from a root filesystem tarball",
    aliases=["image import"],
    params=[
        Param("file", type="path", help="Tarball (plain or gzip), or - for stdin"),
        Param("reference", required=False, help="Name for the image (unnamed without)"),
    ],
    flags=[
        Flag("message", short="m", type="string", default="", help="Comment for the image's history"),
        Flag("platform", type="string", help="Platform the image declares (default: this host's)"),
        Flag("max-size", type="size", help=_MAX_SIZE_HELP.format(what="the tarball")),
        _CHANGE,
    ],
    examples=[
        Example("import rootfs.tar.gz myroot:1", "Import a rootfs tarball as myroot:1"),
        Example("import -c 'CMD [\"/bin/sh\"]' -c 'ENV LANG=C.UTF-8' rootfs.tar myroot:2", "With a command and an environment"),
    ],
    category=_CAT,
)
def import_(
    ctx: Any, file: str, reference: str | None, message: str, platform: str | None, max_size: Any,
    change: list[str],
) -> dict[str, Any]:
    stream, owned = _open_input(ctx, file)
    try:
        record = ctx.managers.images.import_rootfs(
            stream,
            reference,
            message=message,
            platform=platform,
            max_size=int(max_size) if max_size is not None else None,
            changes=change,
        )
    finally:
        if owned:
            stream.close()
    return _sized(record)


@command(
    "commit",
    help="Make an image of a container's changes (its image plus one layer)",
    description=(
        "The new image has the container's image's config with --change applied (Dockerfile "
        "instructions: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER, WORKDIR, VOLUME, STOPSIGNAL) and a "
        "history entry with --message and --author. A running container is paused meanwhile unless "
        "--pause=false. Without a name the image is unnamed (listed by its id)."
    ),
    aliases=["container commit"],
    params=[
        Param("container", type="container", help="Container"),
        Param("repository", required=False, help="Name for the image, REPOSITORY[:TAG]"),
    ],
    flags=[
        _CHANGE,
        Flag("message", short="m", type="string", default="", help="Comment for the image's history"),
        Flag("author", short="a", type="string", default="", help="Author (\"Name <email>\")"),
        Flag("pause", short="p", default=True, help="Pause the container during the commit (default true)"),
    ],
    examples=[
        Example("commit web web:snapshot", "web's filesystem as the image web:snapshot"),
        Example("commit -c 'CMD [\"httpd\", \"-f\"]' -c 'EXPOSE 80' -m 'with the site' web site:1",
                "A new command and port, with a comment"),
    ],
    category=_CAT,
)
def commit(
    ctx: Any, container: str, repository: str | None, change: list[str], message: str, author: str, pause: bool,
) -> dict[str, Any]:
    record = ctx.managers.containers.commit(
        container, repository, changes=change, message=message, author=author, pause=pause
    )
    return _sized(record)


@command(
    "pull",
    help="Pull an image from a registry",
    aliases=["image pull"],
    params=[Param("image", help="Image reference, e.g. busybox or localhost:5000/app:1")],
    flags=[
        Flag(
            "platform", type="string", help="Platform to pull from a multi-platform image (os/arch[/variant])"
        ),
        Flag("quiet", short="q", help="No progress; return only the image's name"),
        _INSECURE,
        Flag(
            "max-concurrent-downloads",
            type="int",
            help="Layers downloaded at once (default: max-concurrent-downloads of the settings file, 3)",
        ),
    ],
    examples=[
        Example("pull localhost:5000/tools/busybox:1", "Pull from a local registry"),
        Example("pull --platform linux/arm64 alpine", "Pull another platform's image"),
        Example("pull --max-concurrent-downloads 6 localhost:5000/app:1", "Six layers at a time"),
    ],
    category=_CAT,    show=show_pulled,
)
def pull(
    ctx: Any,
    image: str,
    platform: str | None,
    quiet: bool,
    insecure_registry: bool,
    max_concurrent_downloads: int | None,
) -> dict[str, Any]:
    from pouchsh.transfer_view import transfer_view

    with transfer_view(ctx, quiet, "pulled") as progress:
        record = ctx.managers.images.pull(
            image,
            platform=platform,
            insecure=insecure_registry,
            progress=progress,
            cancel=ctx.cancel,
            max_concurrent_downloads=max_concurrent_downloads,
        )
    return record["name"] if quiet else _sized(record)


@command(
    "push",
    help="Push an image to the registry its name points at",
    aliases=["image push"],
    params=[Param("image", type="image", help="Image name with registry, e.g. localhost:5000/app:1")],
    flags=[
        Flag("quiet", short="q", help="No progress"),
        _INSECURE,
        Flag(
            "max-concurrent-uploads",
            type="int",
            help="Blobs uploaded at once (default: max-concurrent-uploads of the settings file, 5)",
        ),
    ],
    examples=[Example("push localhost:5000/tools/busybox:1", "Push to a local registry")],
    category=_CAT,
)
def push(
    ctx: Any, image: str, quiet: bool, insecure_registry: bool, max_concurrent_uploads: int | None
) -> dict[str, Any]:
    from pouchsh.transfer_view import transfer_view

    with transfer_view(ctx, quiet, "pushed") as progress:
        record = ctx.managers.images.push(
            image,
            insecure=insecure_registry,
            progress=progress,
            cancel=ctx.cancel,
            max_concurrent_uploads=max_concurrent_uploads,
        )
    return _sized(record)  # with -q too: scripts read its digest


@command(
    "login",
    help="Log in to a registry (credentials are checked, then stored readable by root only)",
    params=[Param("server", required=False, help="Registry host (default docker.io)")],
    flags=[
        Flag("username", short="u", type="string", help="Username"),
        Flag("password", short="p", type="string", secret=True, help="Password (prefer --password-stdin)"),
        Flag("password-stdin", help="Read the password from stdin"),
        _INSECURE,
    ],
    input="any",
    examples=[
        Example("^cat token.txt | login -u ci --password-stdin localhost:5000", "Log in non-interactively")
    ],
    category=_CAT,
    show=show_login,
)
def login(
    ctx: Any,
    server: str | None,
    username: str | None,
    password: str | None,
    password_stdin: bool,
    insecure_registry: bool,
) -> dict[str, Any]:
    from ctrd.errors import InvalidArgument

    if password_stdin:
        if password:
            raise InvalidArgument("--password and --password-stdin exclude each other")
        # A piped value (``^cat token.txt | login``) is the password; otherwise pouchsh's own stdin.
        raw = ctx.input if ctx.has_input else ctx.stdin.read().decode()
        password = str(raw).rstrip("\r\n")
    if not username:
        if not ctx.is_terminal:
            raise InvalidArgument("login needs -u USERNAME when not on a terminal")
        username = input("Username: ").strip()
    if password is None:
        if not ctx.is_terminal:
            raise InvalidArgument("login needs --password-stdin or -p when not on a terminal")
        import getpass  # and termios: only an interactive login asks

        password = getpass.getpass("Password: ")
    return ctx.managers.images.login(server, username, password, insecure=insecure_registry)


@command(
    "logout",
    help="Forget the credentials of a registry",
    params=[Param("server", required=False, help="Registry host (default docker.io)")],
    examples=[Example("logout localhost:5000", "Forget localhost:5000's credentials")],
    category=_CAT,
)
def logout(ctx: Any, server: str | None) -> dict[str, Any]:
    return ctx.managers.images.logout(server)


@command(
    "registry insecure",
    help="Treat registries as insecure (untrusted TLS, or plain HTTP) for the rest of the session or script",
    description=(
        "As `pouchsh --insecure-registry HOST` for one run, and `insecure-registries` in the settings file "
        "for good. With no host, shows the session's, the settings file's, and that loopback always is."
    ),
    params=[Param("hosts", rest=True, help="HOST[:PORT] or a CIDR (10.20.0.0/16)")],
    examples=[
        Example("registry insecure registry.lan:5000; pull registry.lan:5000/app:1", "Pull from a registry with a self-signed certificate"),
        Example("registry insecure", "Which registries are insecure"),
    ],
    category=_CAT,
)
def registry_insecure(ctx: Any, hosts: list[str]) -> dict[str, Any]:
    return ctx.managers.images.add_insecure_registries(hosts)  # type: ignore[no-any-return]
