"""Completion from a command table of our own, a scope and a synthetic name source (no containerd)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document

from pouchsh.completion import PouchCompleter, StaticNames, cursor_context
from pouchsh.signature import CommandTable, Example, Flag, Param, command

TABLE = CommandTable()


def _noop(ctx: object, **kwargs: object) -> None:
    return None


command("ps", help="List containers", flags=[Flag("all", short="a", help="Show all containers")],
        table=TABLE)(_noop)
command("rm", help="Remove containers", params=[Param("containers", type="container", rest=True)],
        flags=[Flag("force", short="f", help="Kill a running container first")], table=TABLE)(_noop)
command(
    "run",
    help="Run a command in a new container",
    params=[Param("image", type="image"), Param("command", rest=True, required=False)],
    flags=[
        Flag("detach", short="d", help="Run in the background"),
        Flag("name", type="string", help="Assign a name to the container"),
        Flag("network", type="network", help="Connect to a network"),
        Flag("volume", short="v", type="string", repeat=True, complete="volume", help="Bind mount a volume"),
        Flag("restart", type="string", choices=("no", "always", "on-failure"), help="Restart policy"),
    ],
    interspersed=False,
    examples=[Example("run -d busybox sleep 60", "Start a container")],
    table=TABLE,
)(_noop)
command("network create", help="Create a network", params=[Param("name")], table=TABLE)(_noop)
command("network rm", help="Remove networks", params=[Param("networks", type="network", rest=True)],
        table=TABLE)(_noop)
command("network ls", help="List networks", table=TABLE)(_noop)
command("image inspect", help="Inspect images", params=[Param("images", type="image", rest=True)],
        table=TABLE)(_noop)
command("images", help="List images", table=TABLE)(_noop)
command("cp", help="Copy files", params=[Param("src", type="path"), Param("dst", type="path")], table=TABLE)(_noop)
command("namespace use", help="Switch namespace", params=[Param("name", complete="namespace")],
        table=TABLE)(_noop)
command("volume create", help="Create a volume", params=[Param("name", required=False, complete="volume")],
        table=TABLE)(_noop)
command("where", help="Keep items", params=[Param("condition", type="any")], table=TABLE)(_noop)

NAMES = StaticNames({
    "container": ["web", "web-2", "db"],
    "image": ["busybox:latest", "docker.io/library/alpine:3"],
    "network": ["bridge", "backend"],
    "volume": ["data", "logs"],
    "namespace": ["default", "ci"],
})
SCOPE = {
    "web": {"id": "abc", "name": "web", "ports": ["80/tcp"], "labels": {"tier": "front"}},
    "rows": [{"name": "a", "status": "running"}],
    "count": 3,
}


def complete(text: str, names: StaticNames = NAMES) -> list[str]:
    completer = PouchCompleter(TABLE, names=names, scope=lambda: SCOPE)
    return [c.text for c in completer.get_completions(Document(text), CompleteEvent(completion_requested=True))]


def test_command_names_and_keywords() -> None:
    assert complete("r") == ["rm", "run", "return"]
    assert complete("n") == ["namespace", "network"]
    assert complete("le") == ["let"]
    assert complete("ps -a | wh") == ["where"]
    assert complete("if $count > 1 { p") == ["ps"]


def test_the_keywords_offered_are_the_grammars_statement_keywords() -> None:
    import grammar

    offered = {c for c in complete("") if c not in {n.split(" ")[0] for n in TABLE.names()}}
    assert offered == set(grammar.STATEMENT_KEYWORDS)
    assert not set(complete("ps | ")) & grammar.KEYWORDS  # no keyword starts a pipeline stage


def test_subcommands() -> None:
    assert complete("network ") == ["create", "ls", "rm"]
    assert complete("network r") == ["rm"]
    # ``image`` is only a prefix; ``images`` a command: both complete sensibly
    assert complete("image ") == ["inspect"]


def test_flags_with_help_as_meta() -> None:
    completer = PouchCompleter(TABLE, names=NAMES)
    got = {c.text: c.display_meta_text for c in completer.get_completions(Document("run --n"), CompleteEvent())}
    assert got == {"--name": "<string> Assign a name to the container", "--network": "<network> Connect to a network"}
    assert complete("ps -") == ["--all", "--help"]
    assert complete("rm --force -") == ["--help"]  # a flag already given is not offered again
    assert complete("run -v data -") .count("--volume") == 1  # repeatable flags stay


def test_live_names_where_the_signature_says() -> None:
    assert complete("rm w") == ["web", "web-2"]
    assert complete("rm web d") == ["db"]
    assert complete("run --network b") == ["backend", "bridge"]
    assert complete("run --network=b") == ["backend", "bridge"]
    assert complete("run -v ") == ["data", "logs"]
    assert complete("run -d bus") == ["busybox:latest"]
    assert complete("network rm ") == ["backend", "bridge"]
    assert complete("namespace use c") == ["ci"]
    assert complete("run --restart o") == ["on-failure"]


def test_no_existing_names_for_the_name_of_a_new_object() -> None:
    assert complete("volume create d") == []


def test_no_flag_or_name_completion_after_the_image_of_run() -> None:
    # ``run IMAGE ...``: everything after the image belongs to the container's command
    assert complete("run busybox -") == []
    assert complete("run busybox ") == []


def test_variables_and_fields() -> None:
    assert complete("echo $c") == ["$count"]
    assert complete("echo $w") == ["$web"]
    assert complete("echo $web.") == ["id", "name", "ports", "labels"]
    assert complete("echo $web.la") == ["labels"]
    assert complete("echo $web.labels.") == ["tier"]
    assert complete("echo $rows.") == ["name", "status"]
    assert complete('echo "status: $web.n') == ["name"]
    assert complete("echo $nothing.") == []


def test_the_built_in_records_fields_from_a_session() -> None:
    import io
    import threading

    from pouchsh.dryrun import Recorder
    from pouchsh.scope import Runtime
    from pouchsh.session import Session

    out = io.BytesIO()
    session = Session(Runtime(managers_factory=lambda: Recorder(out), stdout=out, stderr=out, stdin=io.BytesIO(),
                              env={}, cwd="/", dry_run=True))
    assert session.run("let web = {name: a}", threading.Event()) == 0
    completer = PouchCompleter(TABLE, scope=session.variables)

    def offered(text: str) -> list[str]:
        return [c.text for c in completer.get_completions(Document(text), CompleteEvent())]

    assert offered("echo $pouch.") == ["dry_run", "version"]
    assert offered("echo $pouch.d") == ["dry_run"]
    assert offered("echo $w") == ["$web"]


def test_paths(tmp_path: Path) -> None:
    (tmp_path / "conf.yaml").write_text("x")
    (tmp_path / "content").mkdir()
    got = complete(f"cp {tmp_path}/con")
    assert sorted(got) == [f"{tmp_path}/conf.yaml", f"{tmp_path}/content/"] or sorted(got) == [
        f"{tmp_path}/conf.yaml", f"{tmp_path}/content"]


def test_nothing_inside_a_string_argument() -> None:
    assert complete('run --name "we') == []


@pytest.mark.parametrize(
    ("text", "words", "word"),
    [
        ("let x = run --na", ("run",), "--na"),
        ("ps -a | where status == ", (), ""),
        ("for i in 1..3 { stop w", ("stop",), "w"),
        ('echo "a $(ps -', ("ps",), "-"),
        ('run --name "x y" bu', ("run", "--name", '""'), "bu"),
        ("run -d \\\n  --name x bu", ("run", "-d", "--name", "x"), "bu"),
    ],
)
def test_cursor_context(text: str, words: tuple[str, ...], word: str) -> None:
    ctx = cursor_context(text)
    assert (ctx.words, ctx.word) == (words, word)


class SyntheticWatcher:
    """A ``ctrd.watch.Watcher`` stand-in holding a fixed snapshot (the cache's own data types)."""

    def __init__(self, namespace: str, count: int) -> None:
        from ctrd.watch import CacheSnapshot, ContainerState, TaskState

        containers = {
            f"{i:064x}": ContainerState(id=f"{i:064x}", image="busybox", labels={"pouchsh/name": f"app-{i:04d}"})
            for i in range(count)
        }
        tasks = {cid: TaskState(container_id=cid, status="running") for cid in list(containers)[::2]}
        self.namespace = namespace
        self.generation = 1
        self._snapshot = CacheSnapshot(namespace=namespace, generation=1, synced=True,
                                       containers=containers, tasks=tasks)

    def snapshot(self) -> object:
        return self._snapshot

    def stop(self) -> None:
        pass


def test_a_thousand_containers_from_the_watch_cache(capsys: pytest.CaptureFixture[str]) -> None:
    from pouchsh.repl.live import LiveNames
    from pouchsh.repl.names import ContainerNames

    containers = ContainerNames(managers=lambda: None, namespace=lambda: "default")
    containers.attach(SyntheticWatcher("default", 1000))
    names = LiveNames({}, live={"container": containers})
    completer = PouchCompleter(TABLE, names=names)

    def complete_rm(prefix: str) -> list[str]:
        return [c.text for c in completer.get_completions(Document("rm " + prefix), CompleteEvent())]

    start = time.perf_counter()
    first = complete_rm("app-09")  # builds the sorted names of this cache generation
    cold = time.perf_counter() - start
    start = time.perf_counter()
    again = complete_rm("app-09")
    warm = time.perf_counter() - start
    assert first == again == [f"app-{i:04d}" for i in range(900, 1000)]
    assert len(complete_rm("")) == 1000
    assert containers.running() == 500
    # figures, not pass/fail: the budget is 50 ms per completion
    with capsys.disabled():
        print(f"\ncompletion over 1,000 containers: first {cold * 1000:.2f} ms, then {warm * 1000:.2f} ms")


@pytest.mark.parametrize("text", [
    "ps -a | wh", "let x = run --na", "run --name=we", "network cr", "if $x == 1 { rm ",
    "for i in 1..3 { stop w", "try { rm a } catch e { ", "run -d --name x busybox sleep 10\nrm ",
    "each {|c| inspect ", "volume create data; volume rm d",
])
def test_cursor_context_agrees_with_the_grammar(text: str) -> None:
    """The lexer-based view (which also works inside ``"$( )"`` and before Lark has loaded) and the
    grammar's ``word_at`` see the same command words and the same word under the cursor."""
    import grammar

    ours, theirs = cursor_context(text), grammar.word_at(text, len(text))
    assert (ours.words, ours.word) == (theirs.command, theirs.prefix)
