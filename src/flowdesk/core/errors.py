"""Domain errors, mapped to HTTP statuses in one place (flowdesk.api.main) and to CLI errors."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str


class FlowdeskError(Exception):
    status = 400

    def as_dict(self) -> dict[str, object]:
        return {"detail": str(self)}


class ValidationFailed(FlowdeskError):
    """Bad input, with every problem named by field; nothing has been written."""

    status = 422

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))

    def as_dict(self) -> dict[str, object]:
        return {
            "detail": "validation failed",
            "errors": [{"field": e.field, "message": e.message} for e in self.errors],
        }


class NotFound(FlowdeskError):
    status = 404


class Forbidden(FlowdeskError):
    status = 403


class Conflict(FlowdeskError):
    """The update was based on a stale version: the caller must reload and retry."""

    status = 409

    def __init__(self, message: str, current_version: int | None = None) -> None:
        self.current_version = current_version
        super().__init__(message)

    def as_dict(self) -> dict[str, object]:
        return {"detail": str(self), "current_version": self.current_version}
