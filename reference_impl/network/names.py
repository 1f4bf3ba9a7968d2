"""Names of the kernel objects and files the network library makes.

Interface names have at most 15 characters. Objects in the root namespace and
every namespace of ours start with the cloud's prefix (``{p}-``), so the
underlay's own clean-up (``Underlay.down``) would remove them too; objects
inside a host's namespace need no prefix, the namespace is the cloud's.

=================  ==============================  ==============================
object             where                           name
=================  ==============================  ==============================
tenant bridge      every participating host        ``br-{vni}``
VXLAN device       every participating host        ``vx-{vni}``
VM port            compute host                    ``tap{port[:11]}``
test endpoint      its own namespace               ``{p}-ep-{port}`` (``eth0``)
DHCP server        its own namespace               ``{p}-qdhcp-{network}``
  its leg          DHCP ns / network host          ``ns-{port[:11]}`` / ``dh-{port[:11]}``
router             its own namespace               ``{p}-qrouter-{router}``
  internal leg     router ns / network host        ``qr-{port[:11]}`` / ``rq-{port[:11]}``
  gateway leg      router ns / root namespace      ``qg-{port[:11]}`` / ``{p}-g{router index}``
external network   root namespace                  ``{p}-ex{network index}`` (a bridge)
SG filter          compute host (nftables)         tables ``bridge sg_mark``, ``inet sg_filter``
router NAT         router ns (nftables)            table ``ip nat``
=================  ==============================  ==============================
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SG_MARK_TABLE = "sg_mark"  # family bridge: marks frames with their in/out port
SG_FILTER_TABLE = "sg_filter"  # family inet: the stateful filter (via br_netfilter)
ROUTER_NAT_TABLE = "nat"  # family ip, inside a router namespace

NS_KINDS = ("qdhcp", "qrouter", "ep")


def short(resource_id: str, length: int = 11) -> str:
    return resource_id.replace("-", "")[:length] if len(resource_id) > length else resource_id


@dataclass(frozen=True)
class NetNames:
    prefix: str

    # namespaces
    def dhcp_ns(self, network_id: str) -> str:
        return f"{self.prefix}-qdhcp-{network_id}"

    def router_ns(self, router_id: str) -> str:
        return f"{self.prefix}-qrouter-{router_id}"

    def endpoint_ns(self, port_id: str) -> str:
        return f"{self.prefix}-ep-{port_id}"

    def is_our_extra_ns(self, name: str) -> bool:
        """Namespaces this library makes (not the underlay's host namespaces)."""
        return any(name.startswith(f"{self.prefix}-{kind}-") for kind in NS_KINDS)

    # inside host namespaces
    @staticmethod
    def bridge(vni: int) -> str:
        return f"br-{vni}"

    @staticmethod
    def vxlan(vni: int) -> str:
        return f"vx-{vni}"

    @staticmethod
    def tap(port_id: str) -> str:
        return f"tap{short(port_id)}"

    @staticmethod
    def dhcp_inner(port_id: str) -> str:
        return f"ns-{short(port_id)}"

    @staticmethod
    def dhcp_outer(port_id: str) -> str:
        return f"dh-{short(port_id)}"

    @staticmethod
    def router_leg(port_id: str) -> str:
        return f"qr-{short(port_id)}"

    @staticmethod
    def router_leg_outer(port_id: str) -> str:
        return f"rq-{short(port_id)}"

    @staticmethod
    def router_gateway(port_id: str) -> str:
        return f"qg-{short(port_id)}"

    # root namespace
    def router_gateway_outer(self, router_index: int) -> str:
        return f"{self.prefix}-g{router_index}"

    def external_bridge(self, network_index: int) -> str:
        return f"{self.prefix}-ex{network_index}"

    def is_our_root_link(self, name: str) -> bool:
        rest = name[len(self.prefix) + 1:] if name.startswith(f"{self.prefix}-") else ""
        return (rest.startswith("ex") and rest[2:].isdigit()) or (rest.startswith("g") and rest[1:].isdigit())

    @staticmethod
    def is_our_host_link(name: str) -> bool:
        """Devices this library makes inside a host namespace."""
        return name.startswith(("br-", "vx-", "tap", "dh-", "rq-"))


@dataclass(frozen=True)
class NetPaths:
    """Files of the network library under the cloud's state directory."""

    root: Path  # <state_dir>/network

    @classmethod
    def under(cls, state_dir: Path) -> "NetPaths":
        return cls(Path(state_dir) / "network")

    @property
    def state(self) -> Path:
        return self.root / "state.json"

    @property
    def lock(self) -> Path:
        return self.root / "lock"

    @property
    def dhcp_client_script(self) -> Path:
        return self.root / "udhcpc-script.sh"

    def dhcp_dir(self, network_id: str) -> Path:
        return self.root / "dhcp" / network_id

    def router_dir(self, router_id: str) -> Path:
        return self.root / "router" / router_id

    def conf(self, directory: Path) -> Path:
        return directory / "dnsmasq.conf"

    def pid(self, directory: Path) -> Path:
        return directory / "dnsmasq.pid"
