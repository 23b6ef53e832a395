"""The progress line of the long-running commands (``sipwire fuzz``, ``sipwire load``)."""

from __future__ import annotations

import time
from typing import TextIO


class Progress:
    """The progress line: redrawn in place on a terminal, a line every few seconds otherwise."""

    def __init__(self, stream: TextIO | None, every: float = 10.0) -> None:
        self.stream = stream
        self.tty = bool(stream is not None and stream.isatty())
        self.every = 0.2 if self.tty else every
        self.last = 0.0
        self.drawn = False

    def show(self, text: str, force: bool = False) -> None:
        if self.stream is None:
            return
        now = time.monotonic()
        if not force and now - self.last < self.every:
            return
        self.last = now
        if self.tty:
            self.stream.write("\r" + text + "\x1b[K")
            self.drawn = True
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def say(self, text: str) -> None:
        """A line of its own (kept above the progress line on a terminal)."""
        if self.stream is None:
            return
        self.end()
        self.stream.write(text + "\n")
        self.stream.flush()

    def end(self) -> None:
        if self.stream is not None and self.drawn:
            self.stream.write("\n")
            self.stream.flush()
            self.drawn = False
