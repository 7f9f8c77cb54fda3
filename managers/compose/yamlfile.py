"""A compose file read as hostile input: bounded in size, in nodes after alias expansion (a "billion
laughs" file is refused, not expanded), in depth and in each interpolated value; one document; plain
data only (no tags that build objects, no binary); every value's line and column kept for errors.

``load`` gives the data with ``${VAR}`` interpolated in every string value (keys are not: compose
does not either) and a table from each value's path (``("services", "web", "ports", 0)``) to where it
is in the file.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ctrd.errors import InvalidArgument
from managers.compose.interpolate import interpolate

__all__ = ["MAX_BYTES", "MAX_DEPTH", "MAX_NODES", "YamlFile", "load", "parse"]

MAX_BYTES = 1 << 20
MAX_NODES = 100_000
MAX_DEPTH = 64

Path_ = tuple[Any, ...]


@dataclass
class YamlFile:
    name: str  # as given (shown in errors)
    data: Any
    marks: dict[Path_, tuple[int, int]] = field(default_factory=dict)  # where each value starts
    key_marks: dict[Path_, tuple[int, int]] = field(default_factory=dict)  # where each mapping key is

    def where(self, path: Path_, *, key: bool = False) -> str:
        """``file:line:col`` of the value at ``path`` (``key``: of its key), or of its nearest parent."""
        if key and path in self.key_marks:
            line, col = self.key_marks[path]
            return f"{self.name}:{line}:{col}"
        while path not in self.marks and path:
            path = path[:-1]
        line, col = self.marks.get(path, (1, 1))
        return f"{self.name}:{line}:{col}"


def load(path: Path, shown: str, env: dict[str, str]) -> YamlFile:
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_BYTES + 1)
    except OSError as e:
        raise InvalidArgument(f"{shown}: {e.strerror or e}") from None
    return parse(raw, shown, env)


def parse(raw: bytes, shown: str, env: dict[str, str]) -> YamlFile:
    """A compose file's bytes read and checked (``shown`` names it in errors; ``-`` for piped text)."""
    if len(raw) > MAX_BYTES:
        raise InvalidArgument(f"{shown}: larger than {MAX_BYTES} bytes")
    try:
        text = raw.decode()
    except UnicodeDecodeError as e:
        raise InvalidArgument(f"{shown}: not UTF-8 (byte {e.start})") from None
    try:
        nodes = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        at = f"{shown}:{mark.line + 1}:{mark.column + 1}" if mark is not None else shown
        raise InvalidArgument(f"{at}: {e.problem or e.context}") from None
    except yaml.YAMLError as e:
        raise InvalidArgument(f"{shown}: {e}") from None
    except RecursionError:
        # the parser recurses per level: a file of nested brackets ends here, before our own depth check
        raise InvalidArgument(f"{shown}: nested deeper than {MAX_DEPTH}") from None
    if len(nodes) != 1:
        raise InvalidArgument(f"{shown}: expected one YAML document, found {len(nodes)}")
    out = YamlFile(shown, None)
    out.data = _Converter(out, env).value(nodes[0], (), 0)
    return out


class _Converter:
    def __init__(self, file: YamlFile, env: dict[str, str]) -> None:
        self.file = file
        self.env = env
        self.count = 0
        self.scalars = yaml.constructor.SafeConstructor()

    def where(self, node: yaml.Node) -> str:
        return f"{self.file.name}:{node.start_mark.line + 1}:{node.start_mark.column + 1}"

    def value(self, node: yaml.Node, path: Path_, depth: int) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise InvalidArgument(f"{self.where(node)}: more than {MAX_NODES} values (aliases expanded): refused")
        if depth > MAX_DEPTH:
            raise InvalidArgument(f"{self.where(node)}: nested deeper than {MAX_DEPTH}")
        self.file.marks.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
        if isinstance(node, yaml.MappingNode):
            self.plain(node, "tag:yaml.org,2002:map")
            return self.mapping(node, path, depth)
        if isinstance(node, yaml.SequenceNode):
            self.plain(node, "tag:yaml.org,2002:seq")
            return [self.value(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
        return self.scalar(node, path)

    def plain(self, node: yaml.Node, tag: str) -> None:
        if node.tag != tag:
            raise InvalidArgument(f"{self.where(node)}: YAML tag {node.tag} is not allowed in a compose file")

    def scalar(self, node: yaml.ScalarNode, path: Path_) -> Any:
        tag = node.tag
        if tag == "tag:yaml.org,2002:str":
            return interpolate(node.value, self.env, self.where(node))
        if tag in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float", "tag:yaml.org,2002:bool",
                   "tag:yaml.org,2002:null"):
            return self.scalars.construct_object(node, deep=True)
        if tag == "tag:yaml.org,2002:timestamp":
            value = self.scalars.construct_object(node, deep=True)
            return value.isoformat() if isinstance(value, (datetime.date, datetime.datetime)) else str(value)
        raise InvalidArgument(f"{self.where(node)}: YAML tag {tag} is not allowed in a compose file")

    def mapping(self, node: yaml.MappingNode, path: Path_, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        merged: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
                for source in sources:
                    if not isinstance(source, yaml.MappingNode):
                        raise InvalidArgument(f"{self.where(source)}: `<<` merges mappings only")
                    for k, v in self.mapping(source, path, depth + 1).items():
                        merged.setdefault(k, v)
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                raise InvalidArgument(f"{self.where(key_node)}: a key must be a plain value")
            key = str(key_node.value)
            if key in out:
                raise InvalidArgument(f"{self.where(key_node)}: duplicate key {key!r}")
            self.file.key_marks[(*path, key)] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            out[key] = self.value(value_node, (*path, key), depth + 1)
        return {**merged, **out}
