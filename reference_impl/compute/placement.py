"""Placement: which compute host runs a new server. Pure functions.

Spread by default (the host with the fewest servers, then the most free RAM,
then topology order); a server may ask for a host or an availability zone
(a rack). RAM is accounted by flavor: a host whose free RAM is less than the
flavor's is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from .errors import AvailabilityZoneNotFound, HostFull, HostNotFound, InvalidInput, NoValidHost


@dataclass(frozen=True)
class HostLoad:
    name: str
    availability_zone: str
    ram_total_mb: int
    ram_used_mb: int
    servers: int

    @property
    def ram_free_mb(self) -> int:
        return self.ram_total_mb - self.ram_used_mb


def choose_host(hosts: Sequence[HostLoad], ram_mb: int, *, host: str | None = None,
                availability_zone: str | None = None) -> HostLoad:
    if not hosts:
        raise NoValidHost("the topology has no compute host")
    by_name = {h.name: h for h in hosts}
    zones = sorted({h.availability_zone for h in hosts})
    if availability_zone is not None and availability_zone not in zones:
        raise AvailabilityZoneNotFound(
            f"availability zone {availability_zone!r} does not exist (zones are the racks: {', '.join(zones)})")
    if host is not None:
        if host not in by_name:
            raise HostNotFound(f"compute host {host!r} does not exist (compute hosts: {', '.join(by_name)})")
        chosen = by_name[host]
        if availability_zone is not None and chosen.availability_zone != availability_zone:
            raise InvalidInput(f"host {host} is in availability zone {chosen.availability_zone}, "
                               f"not {availability_zone}")
        if chosen.ram_free_mb < ram_mb:
            raise HostFull(f"host {host} has {chosen.ram_free_mb} MiB of RAM free "
                           f"({chosen.ram_used_mb} of {chosen.ram_total_mb} MiB used); the flavor needs {ram_mb} MiB")
        return chosen
    candidates = [h for h in hosts if availability_zone in (None, h.availability_zone)]
    fitting = [h for h in candidates if h.ram_free_mb >= ram_mb]
    if not fitting:
        where = f"in availability zone {availability_zone}" if availability_zone else "on any compute host"
        raise NoValidHost(f"no host has {ram_mb} MiB of RAM free {where} ("
                          + ", ".join(f"{h.name}: {h.ram_free_mb} MiB" for h in candidates) + ")")
    order = {h.name: i for i, h in enumerate(hosts)}
    return min(fitting, key=lambda h: (h.servers, -h.ram_free_mb, order[h.name]))
