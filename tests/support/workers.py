"""Which pytest-xdist worker this process is, for host-wide names and ranges that parallel workers must
not share (`make test` runs the suite on several workers; each is a pytest session of its own).

    worker_index()    0 in a serial run and on worker gw0, 1 on gw1, ...
"""

from __future__ import annotations

import os


def worker_index() -> int:
    name = os.environ.get("PYTEST_XDIST_WORKER", "")  # "gw3" on xdist's fourth worker, unset when serial
    return int(name[2:]) if name.startswith("gw") else 0
