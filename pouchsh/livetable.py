"""A stream that comes in frames (``stats``: one table of containers a second), and its live display.

To a script or a pipeline a ``Frames`` value is a Stream of records like ``events``': the rows of each
frame, one after another, as they come. Displayed on a terminal (a statement whose value nothing
captured, at the prompt or in ``pouchsh -c`` on a terminal) it is one table redrawn in place at every
frame, until the stream ends or Ctrl-C ends it, as ``docker stats`` does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from pouchsh.values import Stream

__all__ = ["Frames", "show_live"]


class Frames(Stream):
    """A Stream of the rows of ``frames`` (each a list of records); ``frames()`` walks them whole."""

    def __init__(self, frames: Iterable[list[dict[str, Any]]], *, close: Any = None) -> None:
        self._frames: Iterator[list[dict[str, Any]]] = iter(frames)
        rows = (row for frame in self._frames for row in frame)
        closer = getattr(self._frames, "close", None)

        def close_all() -> None:
            if closer is not None:
                closer()
            if close is not None:
                close()

        super().__init__(rows, close=close_all)

    def frames(self) -> Iterator[list[dict[str, Any]]]:
        return self._frames


def show_live(value: Frames, write: Callable[[str], None], draw: Callable[[list[dict[str, Any]]], str]) -> None:
    """Draw each frame over the one before: the cursor goes back up over the previous frame's lines and
    clears below before the new one is written, so the table stays in place and the scrollback keeps
    only the last frame."""
    height = 0
    try:
        for frame in value.frames():
            text = draw(frame)
            lines = text.count("\n") + 1 if text else 0
            prefix = f"\x1b[{height}F\x1b[J" if height else ""
            write(prefix + (text + "\n" if text else ""))
            height = lines
    finally:
        value.close()
