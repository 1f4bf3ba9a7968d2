"""The fault names of the error bodies Nova and Cinder share
(``{"<name>": {"code": …, "message": …}}``), by status: both come from the
same WSGI fault wrapper (nova/api/openstack/wsgi.py, cinder/api/openstack/wsgi.py)."""

WSGI_FAULT_NAMES = {
    400: "badRequest",
    401: "unauthorized",
    403: "forbidden",
    404: "itemNotFound",
    405: "badMethod",
    409: "conflictingRequest",
    413: "overLimit",
    415: "badMediaType",
    501: "notImplemented",
    503: "serviceUnavailable",
}
