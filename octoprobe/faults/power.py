"""Node power through the BMC named in the inventory: IPMI (``ipmitool``) or Redfish.

* :class:`IpmiPower` runs ``ipmitool -I lanplus -H ADDR -U USER -E chassis
  power off|on|status`` as a subprocess. The password goes through the
  environment variable ``IPMI_PASSWORD`` (``-E``), never on the command line.
* :class:`RedfishPower` speaks Redfish over HTTPS with ``requests``: the
  System is found through ``/redfish/v1/Systems`` (the first member),
  power is changed by POSTing ``{"ResetType": "ForceOff" | "On"}`` to its
  ``#ComputerSystem.Reset`` action and read from its ``PowerState``. TLS is
  verified unless the inventory says ``verify_tls: false``; every request has
  an explicit timeout.

Secrets: the BMC password is resolved only when a command is sent, and every
message that leaves this module (errors, :meth:`describe`) is passed through
:func:`redact`, so it appears in no plan, log, exception or argv.

Pure parsers (:func:`parse_ipmitool_power`, :func:`parse_systems`,
:func:`parse_power_state`, :func:`reset_target`) are tested with recorded
outputs.
"""

from __future__ import annotations

import os
import re
import time
from typing import Any, Callable, Mapping, Protocol, Sequence

from octoprobe.shell import CommandError, LocalRunner, Runner

from .base import ComponentState, Fault, FaultError, FaultPlan, FaultSpec, FaultStatus

__all__ = [
    "ON",
    "OFF",
    "PowerControl",
    "PowerFault",
    "IpmiPower",
    "RedfishPower",
    "power_control",
    "parse_ipmitool_power",
    "parse_systems",
    "parse_power_state",
    "reset_target",
    "redact",
]

ON, OFF = "on", "off"
IPMI_TIMEOUT = 30.0
HTTP_TIMEOUT = (10.0, 30.0)  # connect, read
_IPMI_STATE = re.compile(r"Chassis Power is (on|off)\b", re.IGNORECASE)
_REDFISH_STATE = {"on": ON, "off": OFF, "poweringon": ON, "poweringoff": OFF, "paused": ON}


def redact(text: str, *secrets: str | None) -> str:
    """``text`` with every secret (of at least 3 characters) replaced by ``***``."""
    for secret in secrets:
        if secret and len(secret) >= 3:
            text = text.replace(secret, "***")
    return text


# ---------------------------------------------------------------- parsers


def parse_ipmitool_power(text: str) -> str:
    """``on`` or ``off`` from ``ipmitool chassis power status`` ("Chassis Power is on")."""
    m = _IPMI_STATE.search(text)
    if m is None:
        raise FaultError(f"unexpected ipmitool output (no 'Chassis Power is on/off'): {text.strip()[:200]!r}")
    return m.group(1).lower()


def parse_systems(doc: Mapping[str, Any]) -> list[str]:
    """The ``@odata.id`` of every member of ``/redfish/v1/Systems``."""
    members = doc.get("Members")
    if not isinstance(members, list):
        raise FaultError("the Redfish Systems collection has no Members list")
    ids = [m.get("@odata.id") for m in members if isinstance(m, dict)]
    return [i for i in ids if isinstance(i, str) and i]


def parse_power_state(doc: Mapping[str, Any]) -> str:
    """``on`` or ``off`` from a ComputerSystem's ``PowerState`` (PoweringOn counts as on)."""
    state = doc.get("PowerState")
    if not isinstance(state, str) or state.lower() not in _REDFISH_STATE:
        raise FaultError(f"the Redfish system has no usable PowerState ({state!r})")
    return _REDFISH_STATE[state.lower()]


def reset_target(doc: Mapping[str, Any], system: str) -> str:
    """Where to POST a reset: the system's ``#ComputerSystem.Reset`` target, or the standard path."""
    action = (doc.get("Actions") or {}).get("#ComputerSystem.Reset") or {}
    target = action.get("target") if isinstance(action, dict) else None
    return target if isinstance(target, str) and target else f"{system.rstrip('/')}/Actions/ComputerSystem.Reset"


# ---------------------------------------------------------------- controls


class PowerControl(Protocol):
    """One node's power through its BMC."""

    def state(self) -> str:
        """``on`` or ``off``."""
        ...

    def set(self, state: str) -> None:
        """Power the node ``on`` or (hard) ``off``."""
        ...

    def describe(self, state: str) -> str:
        """What :meth:`set` does, for a plan: no secrets."""
        ...


def _resolve(value: Any) -> str:
    return value if isinstance(value, str) else value.resolve()


class IpmiPower:
    """``ipmitool`` over IPMI-over-LAN (lanplus); the password in ``IPMI_PASSWORD``."""

    def __init__(self, address: str, username: Any, password: Any, *, runner: Runner | None = None,
                 timeout: float = IPMI_TIMEOUT, env: Mapping[str, str] | None = None):
        self.address = address
        self.username = username  # str or SecretRef
        self.password = password  # SecretRef (or anything with resolve())
        self.runner = runner or LocalRunner()
        self.timeout = timeout
        self.env = os.environ if env is None else env

    def argv(self, action: str) -> list[str]:
        user = self.username if isinstance(self.username, str) else f"<user from {self.username}>"
        return self._argv(user, action)

    def _argv(self, user: str, action: str) -> list[str]:
        return ["ipmitool", "-I", "lanplus", "-H", self.address, "-U", user, "-E", "chassis", "power", action]

    def _run(self, action: str) -> str:
        password = _resolve(self.password)
        user = _resolve(self.username)
        try:
            result = self.runner.run(self._argv(user, action), timeout=self.timeout,
                                     env={**self.env, "IPMI_PASSWORD": password})
            return result.stdout + result.stderr
        except CommandError as exc:
            message = redact(f"BMC {self.address} (IPMI): {exc}", password)
        raise FaultError(message)  # outside the except block: no chained exception carries the secret

    def state(self) -> str:
        return parse_ipmitool_power(self._run("status"))

    def set(self, state: str) -> None:
        self._run({ON: "on", OFF: "off"}[state])

    def describe(self, state: str) -> str:
        return f"{' '.join(self.argv(state))} (password from IPMI_PASSWORD)"


class RedfishPower:
    """Redfish over HTTPS. ``address`` is a host (``https://`` is assumed) or a base URL."""

    def __init__(self, address: str, username: Any, password: Any, *, verify: bool = True,
                 timeout: tuple[float, float] = HTTP_TIMEOUT, session: Any = None):
        self.base = address.rstrip("/") if "://" in address else f"https://{address}"
        self.username = username
        self.password = password
        self.verify = verify
        self.timeout = timeout
        self._session = session
        self._system: str | None = None

    def _http(self) -> Any:
        if self._session is None:
            import requests

            self._session = requests.Session()
        return self._session

    def _request(self, method: str, path: str, body: dict | None = None) -> Any:
        import requests

        password = _resolve(self.password)
        url = path if "://" in path else self.base + path
        message = None
        try:
            response = self._http().request(method, url, json=body, auth=(_resolve(self.username), password),
                                            verify=self.verify, timeout=self.timeout,
                                            headers={"Accept": "application/json"})
        except requests.RequestException as exc:
            message = redact(f"BMC {self.base} (Redfish): {method} {url}: {exc}", password)
        if message is not None:
            raise FaultError(message)  # outside the except block: no chained exception carries the secret
        if response.status_code >= 400:
            detail = redact(response.text.strip()[:300], password)
            raise FaultError(f"BMC {self.base} (Redfish): {method} {url}: HTTP {response.status_code}: {detail}")
        if response.status_code == 204 or not response.content:
            return {}
        try:
            return response.json()
        except ValueError:
            raise FaultError(f"BMC {self.base} (Redfish): {method} {url}: not JSON") from None

    def system(self) -> str:
        if self._system is None:
            systems = parse_systems(self._request("GET", "/redfish/v1/Systems"))
            if not systems:
                raise FaultError(f"BMC {self.base} (Redfish): no system in /redfish/v1/Systems")
            self._system = systems[0]
        return self._system

    def state(self) -> str:
        return parse_power_state(self._request("GET", self.system()))

    def set(self, state: str) -> None:
        system = self.system()
        target = reset_target(self._request("GET", system), system)
        self._request("POST", target, {"ResetType": "On" if state == ON else "ForceOff"})

    def describe(self, state: str) -> str:
        reset = "On" if state == ON else "ForceOff"
        tls = "" if self.verify else ", TLS not verified (verify_tls: false)"
        return (f"Redfish {self.base}: POST <first system of /redfish/v1/Systems>/Actions/ComputerSystem.Reset "
                f"{{\"ResetType\": \"{reset}\"}}{tls}")


def power_control(bmc: Any, *, runner: Runner | None = None, session: Any = None) -> PowerControl:
    """The control for an inventory :class:`~octoprobe.inventory.Bmc`."""
    if bmc.type == "ipmi":
        return IpmiPower(bmc.address, bmc.username, bmc.password, runner=runner)
    if bmc.type == "redfish":
        return RedfishPower(bmc.address, bmc.username, bmc.password, verify=bmc.verify_tls, session=session)
    raise FaultError(f"unknown BMC type {bmc.type!r}")


PowerFactory = Callable[[Any], PowerControl]


class PowerFault(Fault):
    """Nodes powered off through their BMCs (inject) and on again (heal).
    ``back(node, deadline)`` runs after power-on: it waits (until
    ``time.monotonic()`` reaches ``deadline``) for the node to answer SSH and
    its OSDs to run; ``back_text`` says so in the plan."""

    def __init__(self, spec: FaultSpec, driver: str, controls: Mapping[str, PowerControl], *,
                 osds: Sequence[int] = (), racks: Sequence[str] = (),
                 back: Callable[[str, float], None] | None = None, back_text: Callable[[str], str] | None = None,
                 boot_timeout: float = 600.0, progress: Callable[[str], None] | None = None):
        super().__init__(spec)
        self.driver = driver
        self.controls = dict(controls)
        self.osds, self.racks = tuple(sorted(osds)), tuple(sorted(set(racks)))
        self.back = back
        self.back_text = back_text
        self.boot_timeout = boot_timeout
        self.progress = progress or (lambda m: None)

    def plan(self) -> FaultPlan:
        inject = [f"node {n}: power off (hard) through its BMC: {c.describe(OFF)}" for n, c in self.controls.items()]
        heal = []
        for n, c in self.controls.items():
            heal.append(f"node {n}: power on through its BMC: {c.describe(ON)}")
            if self.back_text is not None:
                heal.append(f"node {n}: {self.back_text(n)} (within {self.boot_timeout:g}s)")
        return FaultPlan(self.spec, self.driver, tuple(inject), tuple(heal), self.osds, tuple(self.controls),
                         self.racks)

    def inject(self) -> None:
        self.injected = True
        for n, c in self.controls.items():
            c.set(OFF)
            self.progress(f"node {n}: powered off through its BMC")

    def heal(self) -> None:
        for n, c in self.controls.items():
            if c.state() != ON:
                c.set(ON)
                self.progress(f"node {n}: powered on through its BMC")
        deadline = time.monotonic() + self.boot_timeout
        if self.back is not None:
            for n in self.controls:
                self.back(n, deadline)
        self.injected = False

    def status(self) -> FaultStatus:
        components = []
        for n, c in self.controls.items():
            state = c.state()
            components.append(ComponentState(f"node {n} power", state == ON, state))
        return FaultStatus(self.spec, self.injected, tuple(components))
