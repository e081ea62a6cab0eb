"""The error every CMS code-set loader raises for a file that is not the layout it reads."""

from __future__ import annotations


class CodeSetFileInvalid(ValueError):
    """A CMS code-set file that cannot be loaded. `line` is the 1-based line at fault, or None when
    the file as a whole is wrong (e.g. no records of the expected kind at all)."""

    def __init__(self, detail: str, line: int | None = None):
        super().__init__(f"line {line}: {detail}" if line is not None else detail)
        self.detail = detail
        self.line = line
