"""API errors and how each OpenStack service spells them.

A handler raises :class:`ApiError` (or a subclass naming the status); the
service it belongs to renders it in its own format:

* Keystone, Glance: ``{"error": {"code", "title", "message"}}``
* Nova, Cinder: ``{"<faultName>": {"code", "message"}}`` (``itemNotFound`` …)
* Neutron: ``{"NeutronError": {"type", "message", "detail"}}``
"""

from __future__ import annotations

from http import HTTPStatus


class ApiError(Exception):
    """An error response: ``status`` and a message that says what is wrong.
    ``kind`` is a type name for formats that carry one (Neutron)."""

    status = 500

    def __init__(self, message: str, *, status: int | None = None, kind: str | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        self.kind = kind
        self.headers = dict(headers or {})


class BadRequest(ApiError):
    status = 400


class Unauthorized(ApiError):
    status = 401


class Forbidden(ApiError):
    status = 403


class NotFound(ApiError):
    status = 404


class MethodNotAllowed(ApiError):
    status = 405


class NotAcceptable(ApiError):
    status = 406


class Conflict(ApiError):
    status = 409


class RequestTooLarge(ApiError):
    status = 413


class UnsupportedMediaType(ApiError):
    status = 415


class ServiceUnavailable(ApiError):
    status = 503


NOVA_FAULT_NAMES = {
    400: "badRequest",
    401: "unauthorized",
    403: "forbidden",
    404: "itemNotFound",
    405: "badMethod",
    406: "notAcceptable",
    409: "conflictingRequest",
    413: "overLimit",
    415: "badMediaType",
    501: "notImplemented",
    503: "serviceUnavailable",
}


def title_of(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def keystone_body(status: int, message: str, kind: str | None = None) -> dict:
    return {"error": {"code": status, "title": title_of(status), "message": message}}


def nova_body(status: int, message: str, kind: str | None = None) -> dict:
    name = NOVA_FAULT_NAMES.get(status, "computeFault")
    return {name: {"code": status, "message": message}}


def neutron_body(status: int, message: str, kind: str | None = None) -> dict:
    default = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
               405: "MethodNotAllowed", 406: "NotAcceptable", 409: "Conflict", 413: "OverQuota",
               415: "UnsupportedMediaType"}.get(status, "InternalError")
    return {"NeutronError": {"type": kind or default, "message": message, "detail": ""}}


ERROR_FORMATS = {
    "keystone": keystone_body,
    "glance": keystone_body,
    "nova": nova_body,
    "cinder": nova_body,
    "neutron": neutron_body,
}
