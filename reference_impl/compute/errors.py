"""The compute layer's exceptions. Each names what was wrong and, where there
is one, what to do; the API layer maps them to Nova's error responses
(the ``http_status`` attribute)."""

from __future__ import annotations


class ComputeError(RuntimeError):
    """Base class: the compute layer could not do what was asked."""

    http_status = 500


class GuestImageError(ComputeError):
    """The guest image could not be built or imported."""


class InvalidInput(ComputeError):
    http_status = 400


class NotFound(ComputeError):
    http_status = 404


class ServerNotFound(NotFound):
    pass


class ImageNotFound(NotFound):
    pass


class FlavorNotFound(NotFound):
    pass


class HostNotFound(NotFound):
    """A compute host that the topology does not have."""


class AvailabilityZoneNotFound(NotFound):
    pass


class VolumeNotFound(NotFound):
    pass


class Conflict(ComputeError):
    http_status = 409


class FlavorTooSmall(InvalidInput):
    """The flavor's disk (or RAM) is smaller than the image needs."""


class NoValidHost(ComputeError):
    """No compute host (of those allowed) has room: the scheduler's answer."""

    http_status = 500


class HostFull(NoValidHost):
    """The host that was asked for has not enough free RAM."""


class InvalidState(Conflict):
    """The server is in a state that does not allow the action (Nova's 409)."""


class VolumeInUse(Conflict):
    pass


class HypervisorError(ComputeError):
    """QEMU failed to start or to do what QMP asked."""


class QMPError(HypervisorError):
    pass
