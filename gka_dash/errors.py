"""One exception per failure family, so the CLI and the beheer page can turn them into one line."""

from __future__ import annotations


class GkaError(Exception):
    """Base of every error the core raises on purpose."""


class InputError(GkaError):
    """A file a user supplied is not what the importer expects.

    The message is for the person who made the file: it names the file, the row and/or column,
    and what was expected, e.g. ``wijk.csv, row 17, column value: 'abc' is not a number``.
    """

    def __init__(self, file: str, message: str, *, row: int | None = None, column: str | None = None):
        self.file, self.row, self.column, self.detail = file, row, column, message
        where = [file]
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column {column}")
        super().__init__(f"{', '.join(where)}: {message}")


class ScopeError(GkaError):
    """A user asked for data of a gemeente outside their scope."""


class AuthError(GkaError):
    """Login, lockout or user-administration failure."""


# The start of the one line the CLI writes to say why nothing was done; the Beheer page's
# isolated import reads that line back from it (importers.isolated).
CLI_ERROR = "fout: "
