"""Where the grammar's definition lives."""

from __future__ import annotations

import os

__all__ = ["GRAMMAR_PATH"]

GRAMMAR_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pouch.lark")
