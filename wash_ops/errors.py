"""Errors the services raise. Messages are English msgids that the web layer translates.

``N_`` marks a string for the translation catalogue without translating it here, because the
domain core knows nothing of the request's language.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


def N_(message: str) -> str:
    return message


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input: the field it concerns and a message with its parameters."""

    field: str | None
    message: str
    params: dict[str, Any] = field(default_factory=dict)


class DomainError(Exception):
    code = "invalid"

    def __init__(self, message: str, field: str | None = None, **params: Any) -> None:
        super().__init__(message % params if params else message)
        self.problems: list[Problem] = [Problem(field, message, params)]

    @property
    def first(self) -> Problem:
        return self.problems[0]


class InvalidInput(DomainError):
    """The input breaks a rule; ``problems`` lists every field at fault."""

    code = "invalid"

    @classmethod
    def of(cls, problems: list[Problem]) -> InvalidInput:
        error = cls(problems[0].message, problems[0].field, **problems[0].params)
        error.problems = list(problems)
        return error


class NotFound(DomainError):
    """Missing, or not the caller's to see: both answer the same so that ids do not leak."""

    code = "not_found"


class Forbidden(DomainError):
    code = "forbidden"


class Conflict(DomainError):
    """The request is well-formed but the state does not allow it (a transition, capacity)."""

    code = "conflict"


class Problems:
    """Collects problems while validating, then raises them together."""

    def __init__(self) -> None:
        self.items: list[Problem] = []

    def add(self, field: str | None, message: str, **params: Any) -> None:
        self.items.append(Problem(field, message, params))

    def has(self, field: str) -> bool:
        return any(problem.field == field for problem in self.items)

    def raise_if_any(self) -> None:
        if self.items:
            raise InvalidInput.of(self.items)
