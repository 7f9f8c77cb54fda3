"""How a listing displays: one ``View`` per command, declared beside it (``@command(..., view=PS)``).

A view says which of docker's columns a listing shows and how each cell is written (ids short, times as
"2 minutes ago", ports as ``0.0.0.0:8080->80/tcp``). It changes only what is *shown* of a value that
nothing captured: ``ps | where …``, ``$c = ps`` and ``--json`` see the records unchanged.

One mapping per listing serves the table and docker's ``--format`` both: ``fields(record, trunc)``
gives docker's field names for a record (``ID``, ``Names``, ``Status``, the ``Label`` method on ps),
the table's columns are some of those fields under docker's headers, and a ``table …`` template gets
its header row from the same names. For ``inspect`` the fields are docker's inspect JSON shape, from
``managers.dockershapes`` (what pouchd answers), so ``{{.State.Status}}`` means what it means to docker.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pouchsh.cells import Grid, tabwrite
from pouchsh.signature import Flag
from pouchsh.values import Method, Stream

__all__ = [
    "FORMAT",
    "INSPECT_FORMAT",
    "NO_TRUNC",
    "Column",
    "View",
    "ago",
    "docker_time",
    "ellipsis",
    "human_size",
    "short_id",
    "show_given",
    "show_id",
    "show_login",
    "show_name",
    "show_nothing",
    "show_pulled",
    "show_removed_images",
    "tabwrite",
]

#: docker's ``--format`` (checked when the script is checked if it is written out; see pouchsh.coerce)
FORMAT = Flag("format", type="template", help="Format with a Go template (docker's: {{.ID}}, {{json .}}, table …)")
#: inspect's, which docker also spells -f
INSPECT_FORMAT = Flag("format", short="f", type="template",
                      help="Format with a Go template over docker's inspect fields ({{.State.Status}})")
NO_TRUNC = Flag("no-trunc", help="Do not truncate ids and long fields")


@dataclass(frozen=True)
class Column:
    """One column: docker's ``header`` over the text of docker's ``field``. ``cut`` is the order in which
    columns give up width on a narrow terminal: 0 never, 1 first (commands, ports), 2 last (names)."""

    header: str
    field: str
    cut: int = 1


@dataclass(frozen=True)
class View:
    """A listing's display. ``fields(record, trunc)`` is a record as docker's fields; ``columns`` are
    the table (none: the value displays as it is and the view serves only ``--format``); ``headers``
    names the other fields for ``table`` templates. ``strict``: a field missing from a record is an
    error (docker's listings are Go structs), else ``<no value>`` (docker's inspect decodes JSON)."""

    fields: Callable[[dict[str, Any], bool], dict[str, Any]]
    columns: tuple[Column, ...] = ()
    headers: dict[str, str] = field(default_factory=dict)
    strict: bool = True

    # -- the table --------------------------------------------------------------------------------

    def show(self, value: Any, args: dict[str, Any]) -> Any:
        """What a statement shows of ``value`` (the command's result, ``args`` its arguments)."""
        if not self.columns or args.get("format") is not None or args.get("quiet"):
            return value  # text already (--format), or -q's ids
        trunc = not args.get("no_trunc", False)
        if isinstance(value, Stream):
            return Stream((self.line(item, trunc) for item in value), close=value.close)
        if isinstance(value, list) and all(isinstance(v, dict) for v in value):
            return self.grid(value, trunc)
        return value

    def grid(self, records: list[dict[str, Any]], trunc: bool) -> Grid:
        rows = []
        for record in records:
            fields = self.fields(record, trunc)
            rows.append([_cell(fields.get(c.field)) for c in self.columns])
        return Grid([c.header for c in self.columns], rows, [c.cut for c in self.columns])

    def line(self, record: Any, trunc: bool) -> Any:
        """A stream item as one line of the table's columns (``events``), space-separated."""
        if not isinstance(record, dict):
            return record
        fields = self.fields(record, trunc)
        return " ".join(_cell(fields.get(c.field)) for c in self.columns).rstrip()

    # -- --format ---------------------------------------------------------------------------------

    def wrap(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """The command function with ``--format`` applied to its result (the result as text)."""

        @functools.wraps(fn)
        def run(ctx: Any, **kwargs: Any) -> Any:
            template = kwargs.pop("format", None)
            value = fn(ctx, **kwargs)
            if template is None:
                return value
            return self.format(value, template, trunc=not kwargs.get("no_trunc", False))

        return run

    def format(self, value: Any, template: Any, *, trunc: bool) -> Any:
        """One line of text per record (a string for one record, a list for a listing)."""
        template = self.expand(template)
        if isinstance(value, dict):
            return template.render(self.fields(value, trunc), strict=self.strict)
        if isinstance(value, Stream):
            return Stream((template.render(self.fields(item, trunc), strict=self.strict)
                           if isinstance(item, dict) else item for item in value), close=value.close)
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            return value  # -q's ids: nothing to format
        lines = [template.render(self.fields(r, trunc), strict=self.strict) for r in value]
        if template.table:
            lines = tabwrite([self.header_row(template), *lines])
        return lines

    def expand(self, template: Any) -> Any:
        """docker's shorthands: ``json`` (one JSON document per line) and a bare ``table``."""
        from pouchsh import gotemplate

        if template.source.strip() == "json":
            return gotemplate.parse("{{json .}}")
        if template.source.strip() == "table" and self.columns:
            return gotemplate.parse("table " + "\t".join("{{." + c.field + "}}" for c in self.columns))
        return template

    def header_row(self, template: Any) -> str:
        from ctrd.errors import InvalidArgument

        names = {c.field: c.header for c in self.columns}
        names.update(self.headers)
        try:
            return str(template.render(_Headers(names), strict=True))
        except InvalidArgument:
            return ""  # a header of what is not a plain field (a nested path): docker writes none either


class _Headers(dict):  # type: ignore[type-arg]
    """The header row's data: every field is its header (docker renders the template once over this),
    also a method's (``{{.Label "app"}}`` heads its column ``LABEL``)."""

    def __contains__(self, key: object) -> bool:
        return True

    def __getitem__(self, key: str) -> Any:
        header = dict.get(self, key) or key.upper()
        return Method(key, lambda *args: header)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


# ----------------------------------------------------------------------------------------- cell formats


def short_id(ident: str, trunc: bool = True) -> str:
    """docker's short id: 12 hex digits without the ``sha256:`` prefix."""
    if not trunc:
        return ident
    return ident.removeprefix("sha256:")[:12]


def ellipsis(text: str, width: int, trunc: bool = True) -> str:
    """docker's ``Ellipsis``: cut to ``width`` characters, the last an ellipsis."""
    if not trunc or len(text) <= width:
        return text
    return text[: width - 1] + "…"


def _moment(stamp: Any) -> datetime | None:
    if not stamp:
        return None
    if isinstance(stamp, (int, float)):
        return datetime.fromtimestamp(stamp, UTC)
    try:
        moment = datetime.fromisoformat(str(stamp))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def ago(stamp: Any, now: datetime | None = None) -> str:
    """"2 minutes ago", docker's way; empty for an unknown time."""
    from managers.records import human_ago

    moment = _moment(stamp)
    if moment is None or moment.year <= 1:
        return ""
    now = now or datetime.now(UTC)
    return human_ago(max(0.0, (now - moment).total_seconds())) + " ago"


def docker_time(stamp: Any) -> str:
    """Go's default time text, as docker's ``CreatedAt``: ``2026-12-06 10:00:00 +0000 UTC``."""
    moment = _moment(stamp)
    if moment is None:
        return ""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S +0000 UTC")


def human_size(size: Any) -> str:
    """docker's ``HumanSizeWithPrecision(size, 3)``: decimal units, three significant digits (4.26MB)."""
    value = float(size or 0)
    units = ("B", "kB", "MB", "GB", "TB", "PB", "EB")
    i = 0
    while value >= 1000 and i < len(units) - 1:
        value /= 1000
        i += 1
    return f"{value:.3g}{units[i]}"


def ports_text(ports: list[dict[str, Any]]) -> str:
    """docker's PORTS cell: ``0.0.0.0:8080->80/tcp, 53/udp``."""
    out = []
    for p in ports or []:
        target = f"{p.get('container_port')}/{p.get('protocol') or 'tcp'}"
        if p.get("host_port"):
            out.append(f"{p.get('host_ip') or '0.0.0.0'}:{p['host_port']}->{target}")
        else:
            out.append(target)
    return ", ".join(out)


def labels_text(labels: dict[str, Any] | None) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted((labels or {}).items()))


def label_method(labels: dict[str, Any] | None) -> Any:
    found = dict(labels or {})
    return Method("Label", lambda name: str(found.get(name, "")))


# ---------------------------------------------------------------- what a statement prints, as docker does
#
# Each is a command's ``show`` (pouchsh.signature): what a statement whose value nobody uses prints of
# it. In a pipeline or an assignment the value stays the full record (``let c = run -d …; $c.id``).


def _records(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _field(record: Any, key: str) -> Any:
    """A record's field by indexing, so a dry run's placeholder answers with its own text."""
    if isinstance(record, dict):
        return record[key] if key in record else ""
    return record


def show_id(value: Any, args: dict[str, Any]) -> Any:
    """``run -d``, ``create``, ``network create``: the full id."""
    ids = [_field(r, "id") for r in _records(value)]
    return ids[0] if len(ids) == 1 else ids


def show_name(value: Any, args: dict[str, Any]) -> Any:
    """``volume create``: the name."""
    names = [_field(r, "name") for r in _records(value)]
    return names[0] if len(names) == 1 else names


def show_given(param: str) -> Callable[[Any, dict[str, Any]], Any]:
    """``rm``, ``stop``, ``start`` …: the containers as they were named (docker echoes its arguments);
    for records piped in, their names."""

    def show(value: Any, args: dict[str, Any]) -> Any:
        if value is None:
            return None
        given = args.get(param) or []
        if given:
            return list(given) if len(given) > 1 else given[0]
        return [_field(r, "name") or _field(r, "id") for r in _records(value)]

    return show


def show_nothing(value: Any, args: dict[str, Any]) -> None:
    """``rename``, ``tag``, ``network connect/disconnect``: docker prints nothing."""
    return None


def show_login(value: Any, args: dict[str, Any]) -> Any:
    """``login``: docker's one line, ``Login Succeeded``."""
    return _field(value, "status") or value


def show_removed_images(value: Any, args: dict[str, Any]) -> Any:
    """``rmi``: docker's ``Untagged:`` line per name removed, ``Deleted:`` when the content went too."""
    lines = []
    for r in _records(value):
        if not isinstance(r, dict):
            continue
        from managers.reference import familiar

        lines.append(f"Untagged: {familiar(r.get('name', ''))}")
        if r.get("deleted"):
            lines.append(f"Deleted: {r.get('id', '')}")
    return lines


def show_pulled(value: Any, args: dict[str, Any]) -> Any:
    """``pull``: the digest line and the name, as docker ends its output (``-q``: the name only)."""
    if not isinstance(value, dict):
        return value
    if args.get("quiet"):
        return value.get("name", "")
    return [f"Digest: {value.get('digest', '')}", value.get("name", "")]
