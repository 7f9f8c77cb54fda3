"""pouchsh/commands/index.py against the declarations: the table defers each command module on the index's
word, so a name missing there would be unknown to a script until something imported the whole table."""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from collections import defaultdict

import pouchsh.commands
from pouchsh.commands import load
from pouchsh.commands.index import DECLARES


def _declared() -> dict[str, tuple[str, ...]]:
    found: dict[str, list[str]] = defaultdict(list)
    for cmd in load().commands():  # commands() imports every deferred module
        if cmd.fn.__module__.startswith("pouchsh.commands."):
            found[cmd.fn.__module__] += [cmd.name, *cmd.aliases]
    return {module: tuple(sorted(names)) for module, names in sorted(found.items())}


def test_index_names_what_each_module_declares() -> None:
    declared = _declared()
    index = {module: tuple(sorted(names)) for module, names in sorted(DECLARES.items())}
    assert index == declared, f"pouchsh/commands/index.py is stale; DECLARES should be:\n{declared!r}"


def test_every_command_module_is_in_the_index() -> None:
    modules = {f"pouchsh.commands.{m.name}" for m in pkgutil.iter_modules(pouchsh.commands.__path__)}
    helpers = {"pouchsh.commands.common", "pouchsh.commands.index"}
    assert modules - helpers == set(DECLARES)


def test_a_script_imports_only_the_modules_of_the_commands_it_names() -> None:
    code = (
        "import sys\n"
        "from pouchsh.commands import load\n"
        "table = load()\n"
        "assert table.match(['network', 'create', 'x']) is not None\n"
        "assert table.get('no-such-command') is None and table.is_prefix('network')\n"
        "print(sorted(m for m in sys.modules if m.startswith('pouchsh.commands.')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert ast.literal_eval(out) == ["pouchsh.commands.common", "pouchsh.commands.index", "pouchsh.commands.networks"]


def test_the_whole_table_is_there_for_whatever_lists_it() -> None:
    code = (
        "import sys\n"
        "from pouchsh.commands import load\n"
        "from pouchsh.commands.index import DECLARES\n"
        "names = set(load().names())\n"
        "assert all(n in names for ns in DECLARES.values() for n in ns)\n"
        "assert all(m in sys.modules for m in DECLARES)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
