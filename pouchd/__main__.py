"""``pouchd``: serve the Docker Engine API over pouchsh's managers.

    pouchd [-H unix://PATH | -H tcp://HOST:PORT]... [--group GROUP] [--address ADDR] [-n NAMESPACE]
           [--tlsverify --tlscacert CA --tlscert CERT --tlskey KEY] [--debug]

Default: ``unix://$POUCHSH_RUN/pouchd.sock`` (``/run/pouchsh/pouchd.sock``). The containerd, namespace and
roots are the shell's: ``--address``/``$CONTAINERD_ADDRESS``, ``--namespace``/``$CONTAINERD_NAMESPACE``,
``$POUCHSH_ROOT``, ``$POUCHSH_RUN``; a container made through the API is one ``pouchsh ps`` shows.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from contextlib import suppress
from typing import NoReturn

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pouchd", description="Serve the Docker Engine API over pouchsh's managers.")
    p.add_argument("-H", "--host", action="append", default=[], metavar="URL",
                   help="unix://PATH or tcp://HOST:PORT to listen on (repeatable)")
    p.add_argument("--group", help="group that may use the unix socket (its directory becomes 0750)")
    p.add_argument("--address", help="containerd socket (env CONTAINERD_ADDRESS)")
    p.add_argument("-n", "--namespace", help="containerd namespace (env CONTAINERD_NAMESPACE, default: default)")
    p.add_argument("--tlsverify", action="store_true", help="require client certificates (mutual TLS)")
    p.add_argument("--tlscacert", help="CA that signs client certificates")
    p.add_argument("--tlscert", help="server certificate")
    p.add_argument("--tlskey", help="server key")
    p.add_argument("--debug", action="store_true", help="log every request")
    return p


def main(argv: list[str] | None = None) -> NoReturn:
    status = _run(argv)
    # The process ends here, without the interpreter's finalization, as pouchsh's does (pouchsh/__main__.py):
    # grpc completes calls on daemon threads (a healthcheck probe in flight, a watch), and finalizing the
    # interpreter under them crashed the server at exit (SIGSEGV, seen once in a CI run of SIGTERMs).
    # Everything pouchd holds is closed by _serve before this point.
    for stream in (sys.stdout, sys.stderr):
        with suppress(OSError, ValueError):
            stream.flush()
    os._exit(status)


def _run(argv: list[str] | None) -> int:
    args = _parser().parse_args(argv)
    from ctrd.errors import PouchError

    try:
        return asyncio.run(_serve(args))
    except PouchError as err:
        hint = f"\n  hint: {err.hint}" if err.hint else ""
        sys.stderr.write(f"pouchd: error[{err.kind}]: {err}{hint}\n")
        return 1
    except OSError as err:
        sys.stderr.write(f"pouchd: error: {err.strerror or err}: {getattr(err, 'filename', '') or ''}\n")
        return 1
    except KeyboardInterrupt:
        return 130


async def _serve(args: argparse.Namespace) -> int:
    from aiohttp import log as aiohttp_log, web

    from ctrd.errors import InvalidArgument
    from managers import Managers
    from pouchd.bridge import install
    from pouchd.listen import TlsFiles, bind, parse_host
    from pouchd.server import Api

    tls = None
    if args.tlsverify or args.tlscacert or args.tlscert or args.tlskey:
        if not (args.tlsverify and args.tlscacert and args.tlscert and args.tlskey):
            raise InvalidArgument("TLS needs all of --tlsverify --tlscacert --tlscert --tlskey (mutual TLS)")
        tls = TlsFiles(args.tlscacert, args.tlscert, args.tlskey)
    run_root = os.environ.get("POUCHSH_RUN") or "/run/pouchsh"
    listeners = [parse_host(h) for h in args.host] or [parse_host(f"unix://{run_root}/pouchd.sock")]
    namespace = args.namespace or os.environ.get("CONTAINERD_NAMESPACE") or "default"
    address = args.address or os.environ.get("CONTAINERD_ADDRESS") or None
    facade = Managers(address=address, namespace=namespace)
    _ = facade.client  # dial (or start the embedded containerd) before accepting anyone
    api = Api()
    bridge = install(api, facade)
    sockets = [bind(listener, group=args.group, tls=tls) for listener in listeners]
    if args.debug:
        # aiohttp's access log goes through logging, which nothing else in pouchd configures
        logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(message)s")
    runner = web.AppRunner(api.app, handler_cancellation=True, shutdown_timeout=5,
                           access_log=aiohttp_log.access_logger if args.debug else None)
    await runner.setup()
    loop = asyncio.get_running_loop()
    fronts = []
    for listener, sock in zip(listeners, sockets):
        if tls is not None and listener.kind == "tcp":
            # TLS ends in front of the server (pouchd.tlsfront): streams half-close through it
            from pouchd.tlsfront import TlsFront, serve_on

            front = TlsFront(sock, tls.context(), serve_on(loop, runner.server))
            front.start()
            fronts.append(front)
        else:
            await web.SockSite(runner, sock).start()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    where = ", ".join(f"unix://{x.address}" if x.kind == "unix" else f"tcp://{x.address}:{x.port}" for x in listeners)
    sys.stderr.write(f"pouchd: serving the Docker Engine API on {where} (namespace {namespace})\n")
    sys.stderr.flush()
    try:
        await stop.wait()
    finally:
        for front in fronts:
            front.close()
        bridge.shutdown()
        await runner.cleanup()
        api.close()
        for listener in listeners:
            if listener.kind == "unix":
                try:
                    os.unlink(listener.address)
                except OSError:
                    pass
        facade.close()
    return 0


if __name__ == "__main__":
    main()
