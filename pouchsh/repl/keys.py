"""Key bindings of the prompt, on top of prompt_toolkit's Emacs set.

- Enter runs the input when it is complete and inserts a newline while a block, string or bracket is
  still open (the grammar decides; an input with a syntax error counts as complete, so that it runs and
  its error is shown rather than trapping the user in continuation lines).
- Alt-Enter (Esc then Enter) always inserts a newline, for editing a block before it is finished.
- A new line after an opening bracket is indented one level; ``}`` typed on a blank line dedents.
- Ctrl-C clears the line (the session's own binding raises KeyboardInterrupt, which the loop takes as
  "start over"); Ctrl-D on an empty line exits; Ctrl-R searches history. Those come from prompt_toolkit.
"""

from __future__ import annotations

from collections.abc import Callable

from prompt_toolkit.buffer import Buffer
from prompt_toolkit.filters import has_focus
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
from prompt_toolkit.keys import Keys

__all__ = ["INDENT", "build_key_bindings", "newline_indent"]

INDENT = "    "
_OPENERS = ("{", "[", "(")


def build_key_bindings(is_complete: Callable[[str], bool]) -> KeyBindings:
    """The REPL's bindings; ``is_complete(text)`` is False while the input needs more lines."""
    kb = KeyBindings()
    focused = has_focus("DEFAULT_BUFFER")

    @kb.add(Keys.Enter, filter=focused)
    def _newline_or_run(event: KeyPressEvent) -> None:
        buffer = event.current_buffer
        state = buffer.complete_state
        if state is not None and state.current_completion is not None:
            buffer.apply_completion(state.current_completion)
            return
        if _should_run(buffer, is_complete):
            buffer.validate_and_handle()
        else:
            buffer.insert_text(newline_indent(buffer))

    @kb.add(Keys.Escape, Keys.Enter, filter=focused)
    def _newline(event: KeyPressEvent) -> None:
        event.current_buffer.insert_text(newline_indent(event.current_buffer))

    @kb.add("}", filter=focused)
    def _close_block(event: KeyPressEvent) -> None:
        buffer = event.current_buffer
        before = buffer.document.current_line_before_cursor
        if before.endswith(INDENT) and not before.strip():
            buffer.delete_before_cursor(len(INDENT))
        buffer.insert_text("}")

    return kb


def _should_run(buffer: Buffer, is_complete: Callable[[str], bool]) -> bool:
    text = buffer.text
    if not text.strip():
        return True
    # Enter inside a multi-line input edits it (as in IPython); on one line it runs wherever the cursor is.
    if "\n" in text and buffer.document.text_after_cursor.strip():
        return False
    if text.endswith("\\"):
        return False
    return is_complete(text)


def newline_indent(buffer: Buffer) -> str:
    """A newline indented like the current line, one level deeper after an opening bracket."""
    line = buffer.document.current_line_before_cursor
    indent = line[: len(line) - len(line.lstrip())]
    if line.rstrip().endswith(_OPENERS):
        indent += INDENT
    return "\n" + indent
