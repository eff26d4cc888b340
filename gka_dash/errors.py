"""One exception per failure family, so the CLI and the beheer page can turn them into one line."""

from __future__ import annotations

import unicodedata

MAX_MESSAGE = 400  # one line on a screen: a 50 MB "number" is not repeated back in full


class GkaError(Exception):
    """Base of every error the core raises on purpose."""


class InputError(GkaError):
    """A file a user supplied is not what the importer expects.

    The message is for the person who made the file: it names the file, the row and/or column,
    and what was expected, e.g. ``wijk.csv, row 17, column value: 'abc' is not a number``.
    """

    def __init__(self, file: str, message: str, *, row: int | None = None, column: str | None = None):
        file, message = inert(str(file)), inert(str(message))
        self.file, self.row, self.column, self.detail = file, row, column, message
        where = [file]
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column {inert(str(column))}")
        line = f"{', '.join(where)}: {message}"
        super().__init__(line if len(line) <= MAX_MESSAGE else line[:MAX_MESSAGE - 1] + "…")


def inert(text: str) -> str:
    """Text from a file as one inert line: a newline or a terminal escape in a cell would split
    the one-line error the CLI and Beheer show, or let the file write to the terminal."""
    return "".join(ch if unicodedata.category(ch) not in ("Cc", "Cf", "Zl", "Zp") else f"\\x{ord(ch):02x}"
                   if ord(ch) < 256 else f"\\u{ord(ch):04x}" for ch in text)


class ScopeError(GkaError):
    """A user asked for data of a gemeente outside their scope."""


class AuthError(GkaError):
    """Login, lockout or user-administration failure."""


# The start of the one line the CLI writes to say why nothing was done; the Beheer page's
# isolated import reads that line back from it (importers.isolated).
CLI_ERROR = "fout: "
