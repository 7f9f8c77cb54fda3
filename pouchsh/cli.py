"""The command line::

    pouchsh [OPTIONS] FILE.pouch [ARGS...]     run a script ($args holds ARGS)
    pouchsh [OPTIONS] COMMAND [ARGS...]        run one command, as ``docker COMMAND ...`` does
    pouchsh [OPTIONS] -c STRING [ARGS...]      run a string
    pouchsh [OPTIONS] - [ARGS...]              run standard input (also when stdin is a pipe)
    pouchsh [OPTIONS]                          the interactive prompt (stdin is a terminal)

Options: --check (parse and check only), --dry-run (print the manager calls, make none), --json (every
displayed value as one JSON document per line), --debug (Python tracebacks), --address ADDR
(env CONTAINERD_ADDRESS), -n/--namespace NS (env CONTAINERD_NAMESPACE, default ``default``). The
bounds on values come from POUCHSH_MAX_ITEMS and POUCHSH_MAX_TEXT (pouchsh.values).

A script is read as bytes and must be UTF-8: the first byte that is not is a parse error with a caret.
A first argument that names a command (pouchsh.argv_call.names_command: no ``/``, not ``*.pouch``) is
that command, called with the other arguments as its words, each taken as it is (never parsed as pouch).

Exit status (pouchsh.session.exit_code): 0 success; 1 a runtime error; 2 a parse or check error or a bad
command line; 125, 126, 127 a container command that failed before the container's command ran, as
docker's; 130 Ctrl-C; ``exit N`` gives N; otherwise the status of the last statement's foreground
container (``run`` without ``-d``), like ``docker run``. No Python traceback reaches the user without
``--debug``.

This module imports only what a script run needs: no prompt_toolkit, rich or pygments, and grpc only
when a command reaches containerd.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from typing import IO, Any

__all__ = ["Options", "UsageError", "main", "parse_args", "run"]

USAGE = """\
usage: pouchsh [--check] [--dry-run] [--json] [--debug] [--address ADDR | --context NAME] [-n NAMESPACE]
               [--insecure-registry HOST]...
               [FILE.pouch | -c STRING | -] [ARGS...]
       pouchsh [OPTIONS] COMMAND [ARGS...]   run one command, as `docker COMMAND ...` does
       pouchsh serve [pouchd OPTIONS]   serve the Docker Engine API (the same as `pouchd`)

Run a pouch script, or start the interactive prompt when standard input is a terminal.

  COMMAND ARGS...    run this command (`pouchsh run -d busybox sleep 60`, `pouchsh ps -a`,
                     `pouchsh logs web`); each ARG is one word, taken as it is
  FILE.pouch         run this script; ARGS become $args. A script whose name is also a
                     command's runs by a path with a slash: `pouchsh ./run` (or `./run`
                     with a `#!/usr/bin/env pouchsh` line)
  -c STRING          run STRING
  -                  run the script read from standard input
  --check            parse and check only; run nothing
  --dry-run          print the manager calls the script would make, without making them
  --json             print every displayed value as one JSON document per line
  --debug            show Python tracebacks of internal errors
  --address ADDR     containerd socket (env CONTAINERD_ADDRESS)
  --insecure-registry HOST
                     trust HOST[:PORT] (or a CIDR) without verifying its certificate, or over
                     plain HTTP when it speaks no TLS (repeatable; loopback always is)
  --context NAME     a stored context (`context ls`; env POUCHSH_CONTEXT, else `context use`'s
                     choice unless --address or CONTAINERD_ADDRESS is given)
  -n, --namespace NS containerd namespace (env CONTAINERD_NAMESPACE, default: default)
  -h, --help         show this help
  --version          show the version

Exit status:
  0 success; 1 a runtime error; 2 a parse or check error (nothing ran) or a bad command line;
  as docker's: 125 run, create, start or exec failed before the container's command ran,
  126 that command cannot be invoked, 127 it is not found, else the foreground container's own;
  130 Ctrl-C; `exit N` gives N

Environment:
  POUCHSH_MAX_ITEMS  the most items a list, record or collected range may hold (default 10000000)
  POUCHSH_MAX_TEXT   the longest string, in characters or as a size (default 1GiB);
                     a value that would pass either bound fails with error[limit]
  POUCHSH_CONFIG     the settings file (default $XDG_CONFIG_HOME/pouchsh/config.toml, else
                     ~/.config/pouchsh/config.toml); a flag beats the environment, which beats the file
"""


class UsageError(Exception):
    pass


class Options:
    """What the command line asks for. A plain class: making a dataclass costs ~1% of a ``-c version``."""

    script: str | None = None  # a file name, or "-" for stdin
    command: str | None = None  # -c STRING
    check: bool = False
    dry_run: bool = False
    json: bool = False
    debug: bool = False
    address: str | None = None
    namespace: str | None = None
    context: str | None = None
    help: bool = False
    version: bool = False

    def __init__(self) -> None:
        self.args: list[str] = []  # what follows the script or -c STRING: its $args
        self.insecure_registries: list[str] = []  # --insecure-registry HOST, added to the settings file's


def parse_args(argv: list[str]) -> Options:
    """Options stop at the script (or ``-c STRING``); what follows is the script's."""
    opts = Options()
    i = 0
    while i < len(argv):
        a = argv[i]
        i += 1
        if a in ("-h", "--help"):
            opts.help = True
        elif a == "--version":
            opts.version = True
        elif a == "--check":
            opts.check = True
        elif a == "--dry-run":
            opts.dry_run = True
        elif a == "--json":
            opts.json = True
        elif a == "--debug":
            opts.debug = True
        elif a in ("--address", "-n", "--namespace", "-c", "--insecure-registry", "--context"):
            if i >= len(argv):
                raise UsageError(f"{a} needs a value")
            value = argv[i]
            i += 1
            if a == "--address":
                opts.address = value
            elif a == "--insecure-registry":
                opts.insecure_registries.append(value)
            elif a == "--context":
                opts.context = value
            elif a == "-c":
                opts.command = value
                opts.args = argv[i:]
                return opts
            else:
                opts.namespace = value
        elif a.startswith("--address="):
            opts.address = a.partition("=")[2]
        elif a.startswith("--insecure-registry="):
            opts.insecure_registries.append(a.partition("=")[2])
        elif a.startswith("--namespace="):
            opts.namespace = a.partition("=")[2]
        elif a.startswith("--context="):
            opts.context = a.partition("=")[2]
        elif a.startswith("-c") and len(a) > 2:
            opts.command = a[2:]
            opts.args = argv[i:]
            return opts
        elif a == "-" or not a.startswith("-"):
            opts.script = a
            opts.args = argv[i:]
            return opts
        elif a == "--":
            if i < len(argv):
                opts.script = argv[i]
                opts.args = argv[i + 1:]
            return opts
        else:
            raise UsageError(f"unknown option {a}")
    return opts


def run(
    argv: list[str],
    *,
    stdin: IO[bytes],
    stdout: IO[bytes],
    stderr: IO[bytes],
    env: dict[str, str] | None = None,
    is_terminal: bool = False,
    stdin_is_terminal: bool = False,
    cancel: threading.Event | None = None,
    freeze_program: bool = False,
) -> int:
    """Everything ``pouchsh`` does, on the given streams; returns the exit status. Tests call this.

    ``freeze_program`` (the ``pouchsh`` process sets it): the checked program lives until the process
    ends, so it leaves the cyclic collector's sight (pouchsh.collector.keep_for_good). Tests calling this
    in-process leave it off."""
    env = dict(os.environ) if env is None else env
    from ctrd.errors import InvalidArgument
    from pouchsh.values import configure_limits

    def say(text: str) -> None:
        stderr.write((text + "\n").encode())
        stderr.flush()

    try:
        opts = parse_args(argv)
    except UsageError as e:
        say(f"error: {e}\n\n{USAGE}")
        return 2
    if opts.help:
        stdout.write(USAGE.encode())
        return 0
    if opts.version:
        from ctrd import __version__

        stdout.write(f"pouchsh {__version__}\n".encode())
        return 0
    try:
        configure_limits(env)
        from managers.config import load as load_settings

        settings = load_settings(env)
    except InvalidArgument as e:
        say(f"error: {e.message}")
        return 2
    # A flag beats the environment, which beats the settings file (managers.config), as docker orders them.
    namespace = opts.namespace or env.get("CONTAINERD_NAMESPACE") or settings.namespace or "default"
    address = opts.address or env.get("CONTAINERD_ADDRESS") or settings.address or None
    # A context named by the flag or POUCHSH_CONTEXT beats an address from the environment; the one
    # `context use` stored (or the settings file's) is the default only when no address is given.
    context = opts.context or env.get("POUCHSH_CONTEXT") or None
    if context is not None and opts.address:
        say(f"error: --address and --context name two endpoints: give one\n\n{USAGE}")
        return 2
    from managers.config import contexts_dir as stored_contexts
    from managers.config import stored_context

    contexts_dir = stored_contexts(env)
    if context is None and not (opts.address or env.get("CONTAINERD_ADDRESS")):
        try:
            context = stored_context(contexts_dir) or settings.context
        except InvalidArgument as e:
            say(f"error: {e.message}")
            return 2

    data: bytes | None
    words: list[str] = []
    if opts.command is not None:
        # Python decoded the argument with surrogateescape; its bytes are what the user gave.
        data, filename = os.fsencode(opts.command), "<command>"
    elif opts.script == "-" or (opts.script is None and not stdin_is_terminal):
        data, filename = stdin.read(), "<stdin>"
    elif opts.script is not None and _names_command(opts.script):
        words = [opts.script, *opts.args]
        bad = next((w for w in words if not _is_utf8(w)), None)
        if bad is not None:
            say(f"error: the argument {os.fsencode(bad)!r} is not UTF-8")
            return 2
        data, filename = None, "<command>"
    elif opts.script is not None:
        try:
            with open(opts.script, "rb") as f:
                data = f.read()
        except OSError as e:
            say(f"error: cannot read {opts.script}: {e.strerror or e}")
            return 2
        filename = opts.script
    else:
        return _repl(opts, namespace, address, env, context, contexts_dir)

    from pouchsh.scope import Runtime
    from pouchsh.session import Session, exit_code

    if opts.dry_run:
        from pouchsh.dryrun import Recorder

        def managers() -> Any:
            return Recorder(stdout, namespace=namespace, address=address)
    else:
        def managers() -> Any:
            from managers import Managers

            # On a context, its namespace holds unless -n names one.
            chosen = namespace if context is None else (opts.namespace or "default")
            return Managers(address=address, namespace=chosen, contexts_dir=contexts_dir, use=context,
                            insecure_registries=tuple(opts.insecure_registries))

    runtime = Runtime(
        managers_factory=managers, stdout=stdout, stderr=stderr, stdin=stdin, is_terminal=is_terminal,
        json_output=opts.json, env=env, args=opts.args, cancel=cancel, dry_run=opts.dry_run,
    )
    session = Session(runtime, debug=opts.debug)
    from ctrd.errors import PouchError
    from pouchsh.collector import keep_for_good
    from pouchsh.eval import ExitRequest
    from pouchsh.source_text import decode_source, shown_text

    try:
        if data is None:
            from pouchsh.argv_call import call_program

            program = call_program(words, filename)
            session.sources[filename] = program.text
            checked = session.check(program)
        else:
            try:
                text = decode_source(data, filename)
            except PouchError:
                session.sources[filename] = shown_text(data)
                raise
            checked = session.compile(text, filename)
        if freeze_program:
            keep_for_good()
        if opts.check:
            return 0
        session.execute(checked)
    except ExitRequest as e:
        return e.code
    except PouchError as e:
        if opts.debug and e.__cause__ is not None:
            import traceback

            stderr.write("".join(traceback.format_exception(e.__cause__)).encode())
        say(session.format(e))
        return exit_code(e)
    except RecursionError:
        say("error[runtime]: the program nests too deeply")
        return 1
    finally:
        runtime.close()
    return runtime.statement_status


def _names_command(script: str) -> bool:
    if script == "-" or script.endswith(".pouch") or "/" in script:
        return False  # no need to load the command table to know
    from pouchsh.argv_call import names_command
    from pouchsh.commands import load

    return names_command(script, load())


def _is_utf8(word: str) -> bool:
    """Python decodes argv with surrogateescape: a word that was not UTF-8 holds lone surrogates."""
    try:
        word.encode()
    except UnicodeEncodeError:
        return False
    return True


def _repl(opts: Options, namespace: str, address: str | None, env: dict[str, str], context: str | None,
          contexts_dir: Any) -> int:
    from pouchsh import repl

    main = getattr(repl, "main", None)
    if main is None:
        sys.stderr.write("error: the interactive prompt is not available in this build\n")
        return 2
    if context is not None:
        namespace = opts.namespace or "default"
    return int(main(namespace=namespace, address=address, json_output=opts.json, dry_run=opts.dry_run,
                    debug=opts.debug, context=context, contexts_dir=contexts_dir) or 0)


def main(argv: list[str] | None = None) -> int:
    """The ``pouchsh`` program: :func:`run` on the process's streams, with Ctrl-C and broken pipes
    handled and no traceback unless ``--debug``.

    Until the handler for a script run is installed, SIGINT is pouchsh.__main__'s start-up handler
    (exit 130 at once); the interactive prompt installs its own when it starts."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["serve"]:
        # The API server is pouchd, in a process of its own: pouchsh never imports it (import-linter).
        os.execv(sys.executable, [sys.executable, "-m", "pouchd", *argv[1:]])
    debug = "--debug" in argv[: argv.index("-c") if "-c" in argv else len(argv)]
    cancel = threading.Event()

    def on_sigint(signum: int, frame: Any) -> None:
        # The first Ctrl-C asks the running statement to stop; a second one stops waiting for it.
        cancel.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    try:
        stdin_tty = _isatty(sys.stdin)
        interactive = stdin_tty and not any(a in ("-c", "-") or a.endswith(".pouch") or not a.startswith("-")
                                            for a in argv)
        if not interactive:
            signal.signal(signal.SIGINT, on_sigint)
            from managers import cancel_calls_on

            cancel_calls_on(cancel)  # and the call waiting for containerd at that moment is cancelled
        return run(
            argv, stdin=sys.stdin.buffer, stdout=sys.stdout.buffer, stderr=sys.stderr.buffer,
            is_terminal=_isatty(sys.stdout), stdin_is_terminal=stdin_tty, cancel=cancel, freeze_program=True,
        )
    except KeyboardInterrupt:
        sys.stderr.write("error[interrupted]: interrupted\n")
        return 130
    except BrokenPipeError:
        # The reader went away (`pouchsh -c ps | head -1`): stop quietly, like a program killed by SIGPIPE.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except Exception as e:  # noqa: BLE001 - the last line of defence: no traceback without --debug
        if debug:
            import traceback

            traceback.print_exc()
        sys.stderr.write(f"error[runtime]: internal error: {type(e).__name__}: {e}\n")
        if not debug:
            sys.stderr.write("  = help: run again with --debug to see where\n")
        return 1


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False
