"""Scope: the gemeenten a user may see. Every read of indicator data, schools or areas takes one,
so authorisation is a property of the data layer, not of which widgets a page draws."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ScopeError

ROLES = ("beheerder", "regio", "gemeente")


@dataclass(frozen=True)
class Scope:
    gemeenten: frozenset[str] | None  # None: every gemeente (beheerder, CLI, benchmark)

    @classmethod
    def everything(cls) -> "Scope":
        return cls(None)

    @classmethod
    def of(cls, *codes: str) -> "Scope":
        return cls(frozenset(codes))

    @classmethod
    def for_user(cls, role: str, gemeenten) -> "Scope":
        if role == "beheerder":
            return cls.everything()
        return cls(frozenset(gemeenten))

    @property
    def is_everything(self) -> bool:
        return self.gemeenten is None

    def allows(self, gemeente_code: str) -> bool:
        return self.gemeenten is None or gemeente_code in self.gemeenten

    def covers(self, other: "Scope") -> bool:
        """Whether everything ``other`` may see, this scope may see too."""
        if self.is_everything:
            return True
        return other.gemeenten is not None and other.gemeenten <= self.gemeenten

    def check(self, gemeente_code: str) -> str:
        """Return the code when allowed; otherwise refuse without saying what is there."""
        if not self.allows(gemeente_code):
            raise ScopeError(f"Gemeente {gemeente_code} valt buiten uw bevoegdheid.")
        return gemeente_code

