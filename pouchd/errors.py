"""The one place that turns the managers' error tree into the API's status codes and ``{"message"}``
bodies (what docker clients print as ``Error response from daemon: …``)."""

from __future__ import annotations

import json

from aiohttp import web

from ctrd.errors import (
    AlreadyExists,
    Conflict,
    InvalidArgument,
    NotFound,
    PouchError,
    Timeout,
    Unavailable,
)

__all__ = ["ApiError", "NotImplementedByPouchd", "error_response", "status_of"]


class ApiError(Exception):
    """An error the server layer itself raises (a bad query, an unknown version) with its status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class NotImplementedByPouchd(ApiError):
    def __init__(self, what: str) -> None:
        super().__init__(501, f"{what} is not implemented by pouchd")


def status_of(err: BaseException) -> int:
    """The HTTP status for an error from a manager call."""
    if isinstance(err, ApiError):
        return err.status
    if isinstance(err, NotFound):
        return 404
    if isinstance(err, (AlreadyExists, Conflict)):
        return 409
    if isinstance(err, InvalidArgument):
        return 400
    if isinstance(err, Unavailable):
        return 503
    if isinstance(err, Timeout):
        return 504
    return 500


def message_of(err: BaseException) -> str:
    if isinstance(err, ApiError):
        return err.message
    if isinstance(err, PouchError):
        hint = getattr(err, "hint", None)
        text = str(err)
        return f"{text} ({hint})" if hint else text
    return f"internal error: {type(err).__name__}: {err}"


def error_response(err: BaseException) -> web.Response:
    # exactly "application/json": the docker CLI decodes the message only under that type
    body = (json.dumps({"message": message_of(err)}) + "\n").encode()
    return web.Response(status=status_of(err), body=body, headers={"Content-Type": "application/json"})
