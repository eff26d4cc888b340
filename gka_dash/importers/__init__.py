"""Importers: each reads one family of source files, validates all of it, then writes it in one
transaction, so a bad file leaves the database exactly as it was."""
