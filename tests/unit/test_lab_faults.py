"""The chaos suite's lab path without a lab: power (IPMI/Redfish), switch
ports, the lab driver's dispatch and plans, secrets kept out of everything,
the inventory's ``ceph`` block, and ``rados`` piped over a runner."""

from __future__ import annotations

import base64
import json
import os
import stat
import textwrap
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from octoprobe.chaos.rados_pipe import PipedRadosObjects
from octoprobe.chaos.target import lab_state_dir, open_lab_target
from octoprobe.chaos.workload import ObjectMissing, payload
from octoprobe.config_yaml import ConfigError
from octoprobe.faults import FaultError, FaultGuard, FaultJournal, FaultSpec, FaultUnsupported
from octoprobe.faults.lab import LabFaultDriver
from octoprobe.faults.power import (
    OFF,
    ON,
    IpmiPower,
    PowerFault,
    RedfishPower,
    parse_ipmitool_power,
    parse_power_state,
    parse_systems,
    redact,
    reset_target,
)
from octoprobe.faults.registry import fault_driver
from octoprobe.faults.ssh import SshDiskFault, SshFlapFault, cephadm_commands, commands_from_inventory
from octoprobe.faults.switch import PortsFault, SwitchClient, parse_ip_link_admin, parse_sonic_status
from octoprobe.inventory import load_inventory
from octoprobe.shell import CommandError, LocalRunner, Result

PASSWORD = "s3cr3t-BMC-pw"


class FakeRunner:
    """Records every command; ``handler(argv) -> (rc, stdout, stderr)``."""

    def __init__(self, handler=None):
        self.calls: list[tuple[list[str], dict | None, str | None]] = []
        self.handler = handler or (lambda argv: (0, "", ""))
        self.closed = 0

    def run(self, argv, *, timeout, check=True, input=None, env=None):
        assert timeout > 0
        self.calls.append((list(argv), env, input))
        rc, out, err = self.handler(list(argv))
        result = Result(tuple(argv), rc, out, err)
        if check and rc != 0:
            raise CommandError(argv, f"exit status {rc}: {err}", result)
        return result

    def close(self):
        self.closed += 1

    def commands(self) -> list[str]:
        return [" ".join(argv) for argv, _, _ in self.calls]


class FakePower:
    def __init__(self, bmc):
        self.bmc = bmc
        self.power = ON
        self.actions: list[str] = []

    def state(self):
        return self.power

    def set(self, state):
        self.actions.append(state)
        self.power = state

    def describe(self, state):
        return f"fake BMC {self.bmc.address}: power {state}"


class FakeSwitch(SwitchClient):
    def __init__(self, name="tor", dialect="linux"):
        self.ports_down: set[str] = set()
        runner = FakeRunner(self._handle)
        super().__init__(name, dialect, runner)

    def _handle(self, argv):
        if argv[:3] == ["ip", "-j", "link"]:
            port = argv[-1]
            flags = ["BROADCAST"] if port in self.ports_down else ["BROADCAST", "UP", "LOWER_UP"]
            return 0, json.dumps([{"ifname": port, "flags": flags}]), ""
        if argv[:3] == ["ip", "link", "set"]:
            (self.ports_down.discard if argv[-1] == "up" else self.ports_down.add)(argv[-2])
        return 0, "", ""


LAB = """\
name: unit lab
ssh: {user: root}
bmc:
  type: ipmi
  username: admin
  password: {env: UNIT_BMC_PASSWORD}
switches:
  - {name: tor, address: 10.0.0.254, type: linux}
ceph:
  admin_node: ctl
  osd_control: commands
  commands:
    kill: kill-osd {id}
    start: start-osd {id}
    running: osd-running {id}
    disk_offline: offline /dev/{dev}
    disk_online: online /dev/{dev}
    disk_check: is-offline /dev/{dev}
racks:
  - name: spine
    nodes:
      - name: ctl
        roles: [control, monitor]
        ssh: {host: 10.0.0.1}
        switch_ports: [{switch: tor, port: swp1}]
  - name: r1
    uplinks: [{switch: tor, port: swp49}]
    nodes:
      - name: s1
        roles: [storage]
        ssh: {host: 10.0.1.1}
        bmc: {address: 10.9.1.1}
        osds: [{id: 0, device: sdb}, 1]
        switch_ports: [{switch: tor, port: swp2, interface: eno1}]
  - name: r2
    nodes:
      - name: s2
        roles: [storage]
        ssh: {host: 10.0.2.1}
        osds: [2]
        switch_ports: [{switch: tor, port: swp3}]
      - name: s3
        roles: [storage]
        ssh: {host: 10.0.2.2}
        osds: [3]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "lab.yaml"
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture
def inventory(tmp_path):
    return load_inventory(write(tmp_path, LAB))


class Lab:
    """The lab driver over doubles: runners that say every OSD runs, fake BMCs, a fake switch."""

    def __init__(self, inventory, running=None, **options):
        self.running = running if running is not None else {0, 1, 2, 3}
        self.runners = {n.name: FakeRunner(self._handle) for n in inventory.nodes}
        self.powers: dict[str, FakePower] = {}
        self.switch = FakeSwitch()
        self.messages: list[str] = []

        def power(bmc):
            return self.powers.setdefault(bmc.address, FakePower(bmc))

        self.driver = LabFaultDriver(inventory, runners=self.runners, switches={"tor": self.switch}, power=power,
                                     progress=self.messages.append, client=options.pop("client", None), **options)

    def _handle(self, argv):
        command = argv[-1]
        word, _, osd = command.partition(" ")
        if word == "osd-running":
            return (0 if int(osd) in self.running else 1), "", ""
        if word == "start-osd":
            self.running.add(int(osd))
        if word == "kill-osd":
            self.running.discard(int(osd))
        return 0, "", ""


# ---------------------------------------------------------------- power: parsers


@pytest.mark.parametrize("text, state", [
    ("Chassis Power is on\n", ON),
    ("Chassis Power is off\n", OFF),
    ("Chassis Power is ON", ON),
    ("Set Chassis Power Control to Down/Off failed: Command not supported in present state\nChassis Power is off", OFF),
])
def test_ipmitool_power_status_is_parsed(text, state):
    assert parse_ipmitool_power(text) == state


def test_unexpected_ipmitool_output_is_an_error():
    with pytest.raises(FaultError, match="unexpected ipmitool output"):
        parse_ipmitool_power("Error: Unable to establish IPMI v2 / RMCP+ session\n")


SYSTEMS = {"@odata.id": "/redfish/v1/Systems", "Members@odata.count": 1,
           "Members": [{"@odata.id": "/redfish/v1/Systems/System.Embedded.1"}]}
SYSTEM = {
    "@odata.id": "/redfish/v1/Systems/System.Embedded.1",
    "PowerState": "On",
    "Actions": {"#ComputerSystem.Reset": {
        "target": "/redfish/v1/Systems/System.Embedded.1/Actions/ComputerSystem.Reset",
        "ResetType@Redfish.AllowableValues": ["On", "ForceOff", "GracefulShutdown", "ForceRestart"]}},
}


def test_redfish_documents_are_parsed():
    assert parse_systems(SYSTEMS) == ["/redfish/v1/Systems/System.Embedded.1"]
    assert parse_power_state(SYSTEM) == ON
    assert parse_power_state({"PowerState": "Off"}) == OFF
    assert parse_power_state({"PowerState": "PoweringOn"}) == ON
    assert reset_target(SYSTEM, "/x") == "/redfish/v1/Systems/System.Embedded.1/Actions/ComputerSystem.Reset"
    assert reset_target({}, "/redfish/v1/Systems/1/") == "/redfish/v1/Systems/1/Actions/ComputerSystem.Reset"
    with pytest.raises(FaultError, match="no usable PowerState"):
        parse_power_state({"PowerState": None})
    with pytest.raises(FaultError, match="no Members"):
        parse_systems({})


def test_redact_replaces_every_secret():
    assert redact(f"a {PASSWORD} b {PASSWORD}", PASSWORD, None, "") == "a *** b ***"


# ---------------------------------------------------------------- power: IPMI


class Secret:
    def resolve(self):
        return PASSWORD

    def __str__(self):
        return "env:UNIT_BMC_PASSWORD"


def test_ipmitool_gets_the_password_through_its_environment_only():
    runner = FakeRunner(lambda argv: (0, "Chassis Power is off\n", ""))
    ipmi = IpmiPower("10.9.1.1", "admin", Secret(), runner=runner, env={"PATH": "/usr/bin"})
    assert ipmi.state() == OFF
    ipmi.set(ON)
    (status, env, _), (on, _, _) = runner.calls
    assert status == ["ipmitool", "-I", "lanplus", "-H", "10.9.1.1", "-U", "admin", "-E", "chassis", "power",
                      "status"]
    assert on[-1] == "on" and env == {"PATH": "/usr/bin", "IPMI_PASSWORD": PASSWORD}
    assert all(PASSWORD not in " ".join(argv) for argv, _, _ in runner.calls)
    assert PASSWORD not in ipmi.describe(OFF) and "-E" in ipmi.describe(OFF)


def test_an_ipmitool_failure_never_shows_the_password():
    runner = FakeRunner(lambda argv: (1, "", f"cannot log in with password {PASSWORD}"))
    ipmi = IpmiPower("10.9.1.1", "admin", Secret(), runner=runner, env={})
    with pytest.raises(FaultError) as info:
        ipmi.set(OFF)
    assert PASSWORD not in str(info.value) and "***" in str(info.value)
    assert info.value.__cause__ is None and info.value.__context__ is None  # nothing chained carries it


# ---------------------------------------------------------------- power: Redfish against a local server


class FakeBmc(BaseHTTPRequestHandler):
    power = "On"
    posts: list = []
    auth = "Basic " + base64.b64encode(f"admin:{PASSWORD}".encode()).decode()

    def log_message(self, *args):
        pass

    def _send(self, code, doc=None):
        body = json.dumps(doc).encode() if doc is not None else b""
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.headers.get("Authorization") != self.auth:
            return self._send(401, {"error": {"message": "bad credentials"}})
        if self.path == "/redfish/v1/Systems":
            return self._send(200, SYSTEMS)
        if self.path == "/redfish/v1/Systems/System.Embedded.1":
            return self._send(200, {**SYSTEM, "PowerState": type(self).power})
        self._send(404, {})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).posts.append((self.path, body))
        type(self).power = "Off" if body["ResetType"] == "ForceOff" else "On"
        self._send(204)


@pytest.fixture
def bmc_server():
    FakeBmc.power, FakeBmc.posts = "On", []
    server = HTTPServer(("127.0.0.1", 0), FakeBmc)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_redfish_powers_the_first_system_off_and_on(bmc_server):
    bmc = RedfishPower(bmc_server, "admin", Secret(), timeout=(2.0, 5.0))
    assert bmc.state() == ON
    bmc.set(OFF)
    assert bmc.state() == OFF
    bmc.set(ON)
    assert FakeBmc.posts == [
        ("/redfish/v1/Systems/System.Embedded.1/Actions/ComputerSystem.Reset", {"ResetType": "ForceOff"}),
        ("/redfish/v1/Systems/System.Embedded.1/Actions/ComputerSystem.Reset", {"ResetType": "On"}),
    ]
    assert PASSWORD not in bmc.describe(OFF) and "ForceOff" in bmc.describe(OFF)
    assert "TLS not verified" in RedfishPower("bmc", "a", Secret(), verify=False).describe(ON)


def test_redfish_errors_name_the_bmc_and_never_the_password(bmc_server):
    class WrongSecret(Secret):
        def resolve(self):
            return "wrong-" + PASSWORD

    with pytest.raises(FaultError, match="HTTP 401") as info:
        RedfishPower(bmc_server, "admin", WrongSecret(), timeout=(2.0, 5.0)).state()
    assert PASSWORD not in str(info.value) and bmc_server in str(info.value)
    with pytest.raises(FaultError, match="Redfish") as info:
        RedfishPower("http://127.0.0.1:1", "admin", Secret(), timeout=(1.0, 1.0)).state()
    assert PASSWORD not in str(info.value) and info.value.__context__ is None


# ---------------------------------------------------------------- switches

IP_LINK = """[{"ifindex":7,"ifname":"swp2","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":9216,
"qdisc":"pfifo_fast","operstate":"UP","linkmode":"DEFAULT","group":"default","txqlen":1000,
"link_type":"ether","address":"44:38:39:00:00:02","broadcast":"ff:ff:ff:ff:ff:ff"}]"""
SONIC = """\
  Interface            Lanes    Speed    MTU    FEC           Alias    Vlan    Oper    Admin             Type    Asym PFC
-----------  ---------------  -------  -----  -----  --------------  ------  ------  -------  ---------------  ----------
  Ethernet4      29,30,31,32      40G   9100    N/A    fortyGigE0/4  routed    down     down  QSFP+ or later         off
"""


def test_switch_state_parsers():
    assert parse_ip_link_admin(IP_LINK, "swp2") is True
    assert parse_ip_link_admin(IP_LINK.replace('"MULTICAST","UP",', '"MULTICAST",'), "swp2") is False
    with pytest.raises(FaultError, match="no port 'swp9'"):
        parse_ip_link_admin(IP_LINK, "swp9")
    row = parse_sonic_status(SONIC)["Ethernet4"]
    assert (row["Admin"], row["Oper"], row["Type"], row["Alias"]) == ("down", "down", "QSFP+ or later", "fortyGigE0/4")


@pytest.mark.parametrize("dialect, user, down, up", [
    ("linux", "root", ["ip link set dev swp2 down"], ["ip link set dev swp2 up"]),
    ("cumulus", "cumulus", ["sudo -n ip link set dev swp2 down"], ["sudo -n ip link set dev swp2 up"]),
    ("cumulus-nvue", "cumulus", ["nv set interface swp2 link state down", "nv config apply -y"],
     ["nv set interface swp2 link state up", "nv config apply -y"]),
    ("sonic", "admin", ["sudo config interface shutdown swp2"], ["sudo config interface startup swp2"]),
])
def test_switch_dialects(dialect, user, down, up):
    runner = FakeRunner(lambda argv: (0, SONIC.replace("Ethernet4", "     swp2") if argv[0] == "show" else IP_LINK, ""))
    client = SwitchClient("tor", dialect, runner, user=user)
    client.set_port("swp2", False)
    client.set_port("swp2", True)
    assert runner.commands() == down + up
    assert client.port_up("swp2") is (dialect != "sonic")


def test_a_switch_without_a_known_type_is_refused():
    with pytest.raises(FaultError, match="type 'arista' is not one octoprobe can drive"):
        SwitchClient("tor", "arista", FakeRunner())


# ---------------------------------------------------------------- the lab driver


def test_the_lab_driver_is_registered(inventory):
    assert fault_driver("lab") is LabFaultDriver


def test_disk_and_flap_go_to_the_ssh_driver_with_devices_from_the_inventory(inventory):
    lab = Lab(inventory)
    disk = lab.driver.fault(FaultSpec("disk", ("osd.0",)))
    assert isinstance(disk, SshDiskFault)
    plan = disk.plan()
    assert plan.failure_domains == ("r1",) and plan.hosts == ("s1",)
    assert "on s1 over SSH: kill-osd 0" in plan.inject and "on s1: offline /dev/sdb" in plan.inject
    disk.inject()
    disk.heal()
    assert lab.runners["s1"].commands() == ["sh -c kill-osd 0", "sh -c offline /dev/sdb", "sh -c online /dev/sdb",
                                            "sh -c osd-running 0", "sh -c start-osd 0"]
    # osd.1 has no device: its disk cannot be taken offline, only its daemon killed
    assert not any("offline" in step for step in lab.driver.fault(FaultSpec("disk", ("osd.1",))).plan().inject)
    with pytest.raises(FaultError, match="needs the cluster's CephClient"):
        lab.driver.fault(FaultSpec("flap", ("osd.2",)))
    flap = Lab(inventory, client=object()).driver.fault(FaultSpec("flap", ("osd.2",), params={"cycles": 2}))
    assert isinstance(flap, SshFlapFault) and "2 times: on s2 over SSH: kill-osd 2" in flap.plan().inject[0]


def test_a_node_fault_powers_it_off_and_back_through_its_bmc(inventory, monkeypatch):
    monkeypatch.setenv("UNIT_BMC_PASSWORD", PASSWORD)
    lab = Lab(inventory)
    fault = lab.driver.fault(FaultSpec("node", ("s1",)))
    assert isinstance(fault, PowerFault)
    plan = fault.plan()
    assert plan.osds == (0, 1) and plan.failure_domains == ("r1",)
    assert plan.inject == ("node s1: power off (hard) through its BMC: fake BMC 10.9.1.1: power off",)
    assert "wait until SSH to it answers and its OSDs (osd.0, osd.1) run" in plan.heal[1]
    fault.inject()
    lab.running -= {0, 1}  # the node went down with its OSDs
    assert not fault.status().healthy
    fault.heal()
    power = lab.powers["10.9.1.1"]
    assert power.actions == [OFF, ON] and fault.status().healthy
    assert lab.running >= {0, 1}  # started over SSH once the node answered
    assert "sh -c start-osd 0" in lab.runners["s1"].commands()


def test_the_real_power_control_for_an_ipmi_bmc_keeps_the_password_out_of_the_plan(inventory, monkeypatch):
    monkeypatch.setenv("UNIT_BMC_PASSWORD", PASSWORD)
    driver = LabFaultDriver(inventory, runners={n.name: FakeRunner() for n in inventory.nodes},
                            switches={"tor": FakeSwitch()})
    plan = driver.fault(FaultSpec("node", ("s1",))).plan()
    text = plan.render() + json.dumps(plan.to_dict())
    assert "ipmitool -I lanplus -H 10.9.1.1 -U admin -E chassis power off" in text
    assert PASSWORD not in text


def test_a_node_without_a_bmc_and_the_admin_node_are_refused(inventory):
    lab = Lab(inventory)
    with pytest.raises(FaultUnsupported, match="node s2 has no bmc in the inventory"):
        lab.driver.fault(FaultSpec("node", ("s2",)))
    with pytest.raises(FaultUnsupported, match="admin node ctl"):
        lab.driver.fault(FaultSpec("partition", ("ctl",), scope="host"))
    with pytest.raises(FaultUnsupported, match="hardware to add"):
        lab.driver.fault(FaultSpec("add-host", ("new1",)))
    with pytest.raises(FaultError, match="no node 'nope'"):
        lab.driver.fault(FaultSpec("node", ("nope",)))


def test_a_partition_takes_the_nodes_ports_down_and_heals_them(inventory):
    lab = Lab(inventory)
    fault = lab.driver.fault(FaultSpec("partition", ("s1",), scope="host"))
    assert isinstance(fault, PortsFault)
    plan = fault.plan()
    assert plan.inject[0] == "node s1 eno1: port swp2 down: switch tor (linux, tor): ip link set dev swp2 down"
    assert plan.osds == (0, 1) and plan.failure_domains == ("r1",)
    fault.inject()
    assert lab.switch.ports_down == {"swp2"} and not fault.status().healthy
    lab.running.discard(1)  # an OSD died while cut off: started in the heal
    fault.heal()
    assert lab.switch.ports_down == set() and fault.status().healthy and 1 in lab.running


def test_a_rack_uses_its_uplinks_or_else_every_port_of_its_nodes(inventory):
    lab = Lab(inventory)
    r1 = lab.driver.fault(FaultSpec("rack", ("r1",))).plan()
    assert [s.split(":")[0] for s in r1.inject[:-1]] == ["rack r1 uplink"] and "swp49" in r1.inject[0]
    with pytest.raises(FaultUnsupported, match="rack r2 has neither uplinks nor switch ports"):
        Lab(load_inventory_text(inventory, "        switch_ports: [{switch: tor, port: swp3}]\n", "")).driver.fault(
            FaultSpec("rack", ("r2",)))
    r2 = lab.driver.fault(FaultSpec("partition", ("r2",), scope="rack"))
    r2.inject()
    assert lab.switch.ports_down == {"swp3"}  # s3 has no port in the inventory
    r2.heal()
    assert lab.switch.ports_down == set()


def load_inventory_text(inventory, old: str, new: str):
    path = Path(inventory.path)
    path.write_text(path.read_text().replace(old, new))
    return load_inventory(path)


def test_heal_everything_brings_ports_up_and_osds_back(inventory):
    lab = Lab(inventory, running={0, 2})
    lab.switch.ports_down = {"swp49", "swp3"}
    done = lab.driver.heal_everything()
    assert lab.switch.ports_down == set() and lab.running == {0, 1, 2, 3}
    assert "switch tor: port swp49 up" in done and "osd.1 healed" in done


def test_heal_works_from_the_journal_alone(inventory, tmp_path):
    lab = Lab(inventory)
    journal = FaultJournal(tmp_path / "faults.json")
    guard = FaultGuard(lab.driver, journal)
    guard.inject(lab.driver.fault(FaultSpec("partition", ("s1",), scope="host")))
    assert journal.entries()[0]["driver"] == "lab"
    later = Lab(inventory)  # a new process: nothing in memory
    later.switch.ports_down = set(lab.switch.ports_down)
    assert FaultGuard(later.driver, journal).heal_leftovers() == ["partition of host s1"]
    assert later.switch.ports_down == set() and not journal.entries()


# ---------------------------------------------------------------- OSD control from the inventory


def test_osd_control_commands_by_kind(inventory):
    assert "ceph-abc@osd.3" in cephadm_commands("abc").render(cephadm_commands("abc").kill, 3, {})
    ceph = inventory.ceph
    assert commands_from_inventory(ceph).render("kill-osd {id}", 4, {}) == "kill-osd 4"
    systemd = type(ceph)(admin_node="ctl")
    assert commands_from_inventory(systemd).start == "systemctl start ceph-osd@{id}"
    with pytest.raises(FaultError, match="needs the cluster's fsid"):
        commands_from_inventory(type(ceph)(admin_node="ctl", osd_control="cephadm"))
    assert "ceph-f1@osd" in commands_from_inventory(type(ceph)(admin_node="ctl", osd_control="cephadm"), "f1").kill


# ---------------------------------------------------------------- the inventory's new keys


def test_the_inventory_ceph_block_and_new_keys(inventory):
    assert inventory.ceph.admin_node == "ctl" and inventory.ceph.conf == "/etc/ceph/ceph.conf"
    assert inventory.ceph.commands.disk_check == "is-offline /dev/{dev}"
    s1 = inventory.node("s1")
    assert s1.osds == (0, 1) and s1.devices == {0: "sdb"}
    assert inventory.rack("r1").uplinks[0].port == "swp49"
    assert inventory.node("s1").bmc.verify_tls is True


def test_without_a_ceph_block_the_first_monitor_is_the_admin_node(tmp_path):
    inv = load_inventory(write(tmp_path, """\
        ssh: {user: root, known_hosts: kh}
        racks:
          - name: r1
            nodes:
              - {name: n1, roles: [storage], ssh: {host: h1}}
              - {name: m1, roles: [monitor], ssh: {host: h2}}
        """))
    assert inv.ceph.admin_node == "m1" and inv.ceph.osd_control == "systemd"
    assert inv.node("n1").ssh.known_hosts == tmp_path / "kh"


@pytest.mark.parametrize("change, key, words", [
    (("osd_control: commands", "osd_control: ansible"), "ceph.osd_control", "unknown osd_control 'ansible'"),
    (("admin_node: ctl", "admin_node: ctrl"), "ceph.admin_node", "no node 'ctrl' in the inventory (did you mean"),
    (("kill: kill-osd {id}", "kill: kill-osd {osd}"), "ceph.commands.kill", "unknown field {osd}"),
    (("    running: osd-running {id}\n", ""), "ceph.commands.running", "missing required key 'running'"),
    (("    disk_online: online /dev/{dev}\n", ""), "ceph.commands", "give both disk_offline and disk_online"),
    (("osd_control: commands", "osd_control: systemd"), "ceph.commands", "only with 'osd_control: commands'"),
    (("osds: [{id: 0, device: sdb}, 1]", "osds: [{id: 0, device: 'sd b'}]"), "racks[1].nodes[0].osds[0].device",
     "not a block device name"),
    (("osds: [{id: 0, device: sdb}, 1]", "osds: [{id: 0, dev: sdb}]"), "racks[1].nodes[0].osds[0].dev",
     "unknown key 'dev'"),
    (("uplinks: [{switch: tor, port: swp49}]", "uplinks: [{switch: spine, port: swp49}]"),
     "racks[1].uplinks[0].switch", "unknown switch 'spine'"),
    (("uplinks: [{switch: tor, port: swp49}]", "uplinks: [{switch: tor, port: swp2}]"),
     "racks[1].uplinks[0]", "duplicate switch port 'tor swp2'"),
    (("type: linux}", "type: eos}"), "switches[0].type", "unknown switch type 'eos'"),
    (("bmc: {address: 10.9.1.1}", "bmc: {address: 10.9.1.1, verify_tls: maybe}"), "racks[1].nodes[0].bmc.verify_tls",
     "expected true or false"),
])
def test_inventory_errors_name_file_line_and_key(tmp_path, change, key, words):
    assert change[0] in LAB
    path = write(tmp_path, LAB.replace(*change))
    with pytest.raises(ConfigError) as info:
        load_inventory(path)
    assert info.value.path == str(path) and info.value.line is not None
    assert info.value.key == key, str(info.value)
    assert words in info.value.message, str(info.value)


def test_without_a_monitor_the_ceph_block_must_name_the_admin_node(tmp_path):
    with pytest.raises(ConfigError, match="missing required key 'admin_node'"):
        load_inventory(write(tmp_path, """\
            ceph: {conf: /etc/ceph/ceph.conf}
            racks:
              - name: r1
                nodes: [{name: n1, roles: [storage], ssh: {host: h1, user: root}}]
            """))


# ---------------------------------------------------------------- rados over a runner


@pytest.fixture
def fake_rados(tmp_path, monkeypatch):
    """A `rados` on PATH that keeps objects as files (put/get/rm NAME [FILE])."""
    bin_dir, store = tmp_path / "bin", tmp_path / "store"
    bin_dir.mkdir()
    store.mkdir()
    script = bin_dir / "rados"
    script.write_text(textwrap.dedent(f"""\
        #!/bin/sh
        while [ "$1" != put ] && [ "$1" != get ] && [ "$1" != rm ]; do shift; done
        case "$1" in
          put) cp "$3" {store}/"$2" ;;
          get) [ -e {store}/"$2" ] || {{ echo "error getting p/$2: (2) No such file or directory" >&2; exit 1; }}
               cp {store}/"$2" "$3" ;;
          rm) rm {store}/"$2" ;;
        esac
        """))
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return store


def test_piped_rados_objects_carry_binary_data_over_stdin_and_stdout(fake_rados, tmp_path):
    objects = PipedRadosObjects(LocalRunner(), conf="/etc/ceph/ceph.conf", pool="p", scratch=tmp_path / "scratch")
    data = payload("seed", "obj-1", 100_000)
    objects.put("obj-1", data, timeout=30)
    assert (fake_rados / "obj-1").read_bytes() == data
    assert objects.get("obj-1", timeout=30) == data
    assert objects.get("obj-1", timeout=30) == data  # nothing left behind on the runner's side matters
    with pytest.raises(ObjectMissing):
        objects.get("nope", timeout=30)
    assert not list((tmp_path / "scratch").iterdir())  # the local scratch directory is not used


# ---------------------------------------------------------------- the lab target


def test_the_lab_target_runs_ceph_over_the_admin_node_and_heals_leftovers(inventory, tmp_path):
    lab = Lab(inventory, running={0, 1, 2})  # osd.3 was left killed by a crashed run
    journal = FaultJournal(tmp_path / "state" / "faults.json")
    journal.add(FaultSpec("disk", ("osd.3",)), "lab")
    said: list[str] = []
    target = open_lab_target(inventory, state_dir=tmp_path / "state", runners=lab.runners, say=said.append,
                             driver_options={"switches": {"tor": lab.switch}})
    assert target.kind == "lab" and target.healed_at_open == ("disk osd.3",)
    assert 3 in lab.running and not journal.entries()
    assert target.client.runner is lab.runners["ctl"] and lab.runners["ctl"].commands()[0] == "true"
    assert isinstance(target.driver, LabFaultDriver)
    objects = target.objects(type("C", (), {"pool": "volumes", "scratch": tmp_path / "s", "namespace": "ns"})())
    assert isinstance(objects, PipedRadosObjects) and objects.runner is lab.runners["ctl"]
    target.close()
    assert lab.runners["ctl"].closed == 1


def test_a_dry_run_target_heals_nothing_and_an_unreachable_admin_node_is_reported(inventory, tmp_path):
    lab = Lab(inventory, running={0, 1, 2})
    FaultJournal(tmp_path / "faults.json").add(FaultSpec("disk", ("osd.3",)), "lab")
    target = open_lab_target(inventory, state_dir=tmp_path, runners=lab.runners, heal=False)
    assert target.healed_at_open == () and 3 not in lab.running
    from octoprobe.chaos.target import TargetUnavailable

    lab.runners["ctl"].handler = lambda argv: (255, "", "connection refused")
    with pytest.raises(TargetUnavailable, match="cannot reach the lab's admin node ctl over SSH"):
        open_lab_target(inventory, state_dir=tmp_path, runners=lab.runners)


def test_the_lab_state_dir_is_named_after_the_inventory(inventory, monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert lab_state_dir(inventory) == tmp_path / "octoprobe" / "chaos-unit-lab"


def test_a_leftover_that_cannot_be_healed_is_an_error_not_a_skip(inventory, tmp_path):
    lab = Lab(inventory)
    lab.runners["s3"].handler = lambda argv: (255, "", "no route to host")
    FaultJournal(tmp_path / "faults.json").add(FaultSpec("disk", ("osd.3",)), "lab")
    with pytest.raises(FaultError, match="could not heal what an earlier chaos run left in the lab"):
        open_lab_target(inventory, state_dir=tmp_path, runners=lab.runners)
    assert FaultJournal(tmp_path / "faults.json").entries()  # still journaled for the next run


def test_switch_runner_reads_the_switch_password_only_when_connecting(monkeypatch):
    from octoprobe.faults.lab import switch_runner
    from octoprobe.inventory import SecretRef, Switch

    monkeypatch.delenv("OCTOPROBE_TEST_SWITCH_PW", raising=False)
    ref = SecretRef(env="OCTOPROBE_TEST_SWITCH_PW", file=None, source="lab.yaml:3: switches[0].password")
    runner = switch_runner(Switch("tor-1", "10.0.0.9", "cumulus", "cumulus", ref))  # no variable yet: fine
    assert runner.user == "cumulus" and runner.key_file is None
    monkeypatch.setenv("OCTOPROBE_TEST_SWITCH_PW", "Sw1tch-Pw")
    assert runner._password() == "Sw1tch-Pw"
    assert switch_runner(Switch("tor-2", "10.0.0.10"))._password is None
