"""Containers of the first release keep a restart log URI nothing can run any more.

pouchsh's first release logged each detached container through a per-container logger the shim ran: the
restart monitor's label ``containerd.io/restart.loguri`` held
``binary://<data root>/bin/pouchsh-logger?path=…&max-size=…&max-file=…``. That launcher loaded a logger
since removed (the log collector, ctrd.logd, replaced it), so the monitor's next automatic restart of such
a container fails: the shim cannot start its logger, and the task is never made.

``migrate`` gives each such container what a start gives it now (managers.lifecycle.Lifecycle
.restart_log_uri): its FIFOs, kept read by the collector across its tasks, and their path as the URI. It
runs when the facade builds its container manager (as the first command that touches containers does),
once per data root and namespace: a marker file then says there is nothing left, so the cost of an
invocation with nothing to migrate is one ``stat``.
Without a restart policy the monitor never reads the label, which is then only dropped.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from managers import Managers

__all__ = ["marker", "migrate"]

#: the first release's launcher, under the data root
_LAUNCHER = ("bin", "pouchsh-logger")


def marker(root: str | os.PathLike[str], namespace: str) -> str:
    """The file whose presence says ``namespace``'s containers under ``root`` carry no first-release URI."""
    return os.path.join(root, "migrated", f"restart-loguri.{namespace}")


def migrate(facade: Managers) -> list[str]:
    """Point the restart log URI of every container of the facade's namespace that still names this data
    root's ``pouchsh-logger`` at its log FIFOs; the ids changed. The marker is written only once every one
    is done: a failure is reported and the next invocation tries again."""
    import sys
    from urllib.parse import unquote, urlsplit

    from ctrd.errors import Interrupted, PouchError
    from managers.labels import LABEL

    launcher = os.path.join(os.path.abspath(facade.root), *_LAUNCHER)
    try:
        found = facade.ctrd.containers.list([f'labels."{LABEL.RESTART_LOGURI}"~="^binary://"'])
    except Interrupted:
        raise
    except PouchError:
        return []  # a containerd that does not answer is the command's own error to report
    done, failed = [], False
    for c in found:
        uri = urlsplit(c.labels[LABEL.RESTART_LOGURI])
        if os.path.normpath(unquote(uri.netloc + uri.path)) != launcher:
            continue  # another data root's logger, or not pouchsh's: theirs to mend
        try:
            if c.labels.get(LABEL.RESTART, "no") == "no":
                facade.ctrd.containers.update(c.id, labels={LABEL.RESTART_LOGURI: None})
            else:
                fifo = facade.containers.lifecycle.restart_log_uri(c, c.labels.get(LABEL.TTY) == "true")
                facade.ctrd.containers.update(c.id, labels={LABEL.RESTART_LOGURI: fifo})
        except Interrupted:
            raise
        except (PouchError, OSError) as err:
            print(f"pouchsh: could not move container {c.id[:12]}'s restart log to the log collector: {err}",
                  file=sys.stderr)
            failed = True
            continue
        done.append(c.id)
    if not failed:
        from ctrd.private import PRIVATE_FILE, private_dir

        path = marker(facade.root, facade.namespace)
        try:
            private_dir(os.path.dirname(path))
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, PRIVATE_FILE))
        except OSError as err:  # an unwritable data root: the next invocation looks again
            print(f"pouchsh: could not note that restart logs are migrated: {err}", file=sys.stderr)
    return done
