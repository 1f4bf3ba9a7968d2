"""Hardware inventory: parsers against outputs recorded on the development VM
and a hand-written Dell/AMD server (tests/unit/data/perf/README.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from octoprobe.perf.hardware import (
    IP_LINK, LSBLK, LSCPU, MEMINFO, HardwareParseError, collect_hardware, parse_ethtool, parse_ethtool_driver,
    parse_ip_link, parse_lsblk, parse_lscpu, parse_meminfo,
)
from octoprobe.perf.tools import ToolTimeout

DATA = Path(__file__).parent / "data" / "perf"
VM = DATA / "hw-vm"
DELL = DATA / "hw-dell-r7515-handwritten"
GIB = 1 << 30


def read(path: Path) -> str:
    return path.read_text()


# --- parsers on the recorded VM ---------------------------------------------------


def test_lscpu_vm():
    cpu = parse_lscpu(read(VM / "lscpu.json"))
    assert cpu["model"] == "AMD EPYC"
    assert cpu["vendor"] == "AuthenticAMD"
    assert (cpu["sockets"], cpu["cores"], cpu["threads"]) == (1, 2, 2)
    assert cpu["hypervisor"] == "KVM"


def test_meminfo_vm_is_in_bytes():
    assert parse_meminfo(read(VM / "meminfo.txt")) == {"total_bytes": 24684092 * 1024}


def test_lsblk_vm_skips_zram():
    assert parse_lsblk(read(VM / "lsblk.json")) == [
        {"name": "vda", "model": None, "size_bytes": 274877906944, "rotational": True, "serial": None}]


def test_ip_link_vm_keeps_only_the_physical_nic():
    nics = parse_ip_link(read(VM / "ip-link.json"))
    assert [n["name"] for n in nics] == ["eth0"]  # not lo, ifb*, bridges or veths
    assert nics[0]["mtu"] == 1400 and nics[0]["bus"] == "virtio"


def test_ethtool_vm_speed_unknown():
    assert parse_ethtool(read(VM / "ethtool-eth0.txt")) == {"speed_bps": None, "link": True}
    drv = parse_ethtool_driver(read(VM / "ethtool-i-eth0.txt"))
    assert drv == {"driver": "virtio_net", "driver_version": "1.0.0", "firmware": None, "bus_info": "0000:00:03.0"}


# --- parsers on the hand-written server ---------------------------------------------


def test_lscpu_nested_layout_of_a_dell_epyc():
    cpu = parse_lscpu(read(DELL / "lscpu.json"))
    assert cpu["model"] == "AMD EPYC 7713 64-Core Processor"
    assert (cpu["sockets"], cpu["cores"], cpu["threads"], cpu["threads_per_core"]) == (1, 64, 128, 2)
    assert "hypervisor" not in cpu


def test_dell_memory_and_disks():
    assert 180 * GIB < parse_meminfo(read(DELL / "meminfo.txt"))["total_bytes"] <= 192 * GIB
    disks = parse_lsblk(read(DELL / "lsblk.json"))
    hdds = [d for d in disks if d["rotational"]]
    assert len(disks) == 13 and len(hdds) == 12  # loop0 skipped
    assert {d["size_bytes"] for d in hdds} == {3000592982016}
    assert [d for d in disks if not d["rotational"]][0]["model"] == "MZ7KH480HAHQ0D3"


def test_dell_nics_speed_driver_firmware():
    nics = parse_ip_link(read(DELL / "ip-link.json"))
    assert [n["name"] for n in nics] == ["eno1np0", "eno2np1"]  # not br-ex, not the vxlan device
    assert parse_ethtool(read(DELL / "ethtool-eno1np0.txt")) == {"speed_bps": 10_000_000_000, "link": True}
    assert parse_ethtool(read(DELL / "ethtool-eno2np1.txt")) == {"speed_bps": None, "link": False}
    drv = parse_ethtool_driver(read(DELL / "ethtool-i-eno1np0.txt"))
    assert drv["driver"] == "bnxt_en" and drv["firmware"] == "222.1.68.0/pkg 22.21.06.80"
    assert drv["bus_info"] == "0000:41:00.0"


def test_old_lsblk_prints_strings():
    old = json.dumps({"blockdevices": [
        {"name": "sda", "model": "ST3000NM0005    ", "size": "3000592982016", "rota": "1", "type": "disk",
         "serial": "Z1Y00001"},
        {"name": "sdb", "model": "SSD", "size": "480103981056", "rota": "0", "type": "disk", "serial": None}]})
    disks = parse_lsblk(old)
    assert disks[0] == {"name": "sda", "model": "ST3000NM0005", "size_bytes": 3000592982016, "rotational": True,
                        "serial": "Z1Y00001"}
    assert disks[1]["rotational"] is False


@pytest.mark.parametrize("parser,garbage", [
    (parse_lscpu, "Architecture: x86_64"), (parse_lscpu, "{}"), (parse_meminfo, "MemFree: 1 kB"),
    (parse_lsblk, "[]"), (parse_ip_link, "{}"), (parse_ethtool, "Cannot get device settings"),
    (parse_ethtool_driver, "Cannot get driver information: No such device"),
])
def test_parsers_reject_garbage(parser, garbage):
    with pytest.raises(HardwareParseError):
        parser(garbage)


# --- collection through a runner ------------------------------------------------------


def vm_runner(*, ethtool: bool = True):
    """Answers as the recorded VM did; without ethtool, as a shell that lacks it."""
    dmi_err = read(VM / "dmi-bios_version.stderr")
    answers = {
        tuple(LSCPU): read(VM / "lscpu.json"), tuple(MEMINFO): read(VM / "meminfo.txt"),
        tuple(LSBLK): read(VM / "lsblk.json"), tuple(IP_LINK): read(VM / "ip-link.json"),
        ("ethtool", "eth0"): read(VM / "ethtool-eth0.txt"), ("ethtool", "-i", "eth0"): read(VM / "ethtool-i-eth0.txt"),
    }
    calls = []

    def runner(argv, timeout):
        calls.append((tuple(argv), timeout))
        argv = tuple(argv)
        if argv[0] == "ethtool" and not ethtool:
            return 127, "", "bash: line 1: ethtool: command not found"
        if argv[0] == "cat" and argv[1].startswith("/sys/class/dmi/"):
            return 1, "", dmi_err.replace("bios_version", argv[1].rsplit("/", 1)[1])
        return 0, answers[argv], ""

    runner.calls = calls
    return runner


def dell_runner(argv, timeout):
    argv = tuple(argv)
    dmi = json.loads(read(DELL / "dmi.json"))
    files = {tuple(LSCPU): "lscpu.json", tuple(MEMINFO): "meminfo.txt", tuple(LSBLK): "lsblk.json",
             tuple(IP_LINK): "ip-link.json"}
    if argv in files:
        return 0, read(DELL / files[argv]), ""
    if argv[0] == "ethtool":
        return 0, read(DELL / (f"ethtool-i-{argv[2]}.txt" if argv[1] == "-i" else f"ethtool-{argv[1]}.txt")), ""
    if argv[0] == "cat":
        return 0, dmi[argv[1].rsplit("/", 1)[1]] + "\n", ""
    raise AssertionError(argv)


def test_collect_on_the_vm_says_dmi_is_missing():
    runner = vm_runner()
    inv = collect_hardware(runner, timeout=7)
    assert inv["cpu"]["model"] == "AMD EPYC"
    assert inv["memory"]["total_bytes"] == 24684092 * 1024
    assert [d["name"] for d in inv["disks"]] == ["vda"]
    assert inv["nics"] == [{"name": "eth0", "mac": "02:fc:00:00:00:01", "mtu": 1400, "state": "UP", "bus": "virtio",
                            "speed_bps": None, "link": True, "driver": "virtio_net", "driver_version": "1.0.0",
                            "firmware": None, "bus_info": "0000:00:03.0"}]
    assert inv["system"] == {"vendor": None, "product": None, "bios_vendor": None, "bios_version": None}
    assert inv["missing"] == ["dmi:sys_vendor,product_name,bios_vendor,bios_version"]
    assert inv["errors"] == {}
    assert {timeout for _argv, timeout in runner.calls} == {7}


def test_collect_without_ethtool_still_gives_an_inventory():
    runner = vm_runner(ethtool=False)
    inv = collect_hardware(runner)
    assert "ethtool" in inv["missing"]
    assert inv["nics"][0]["name"] == "eth0" and "driver" not in inv["nics"][0]
    assert inv["cpu"]["threads"] == 2
    # ethtool is tried once, not once per option or NIC
    assert sum(1 for argv, _ in runner.calls if argv[0] == "ethtool") == 1


def test_collect_on_the_dell():
    inv = collect_hardware(dell_runner)
    assert inv["cpu"]["cores"] == 64
    assert len([d for d in inv["disks"] if d["rotational"]]) == 12
    eno1 = inv["nics"][0]
    assert (eno1["name"], eno1["speed_bps"], eno1["driver"], eno1["mtu"]) == ("eno1np0", 10_000_000_000, "bnxt_en", 9000)
    assert inv["system"] == {"vendor": "Dell Inc.", "product": "PowerEdge R7515", "bios_vendor": "Dell Inc.",
                             "bios_version": "2.11.4"}
    assert inv["missing"] == [] and inv["errors"] == {}


def test_collect_records_failures_and_timeouts_instead_of_raising():
    def runner(argv, timeout):
        if argv[0] == "lscpu":
            raise ToolTimeout(argv, timeout)
        if argv[0] == "lsblk":
            return 32, "", "lsblk: unknown column: SERIAL"
        if argv[0] == "cat" and argv[1] == "/proc/meminfo":
            return 0, "garbage", ""
        return dell_runner(argv, timeout)

    inv = collect_hardware(runner, timeout=3)
    assert inv["cpu"] is None and inv["memory"] is None and inv["disks"] == []
    assert inv["errors"]["lscpu -J"] == "no answer after 3 s"
    assert "unknown column" in inv["errors"][" ".join(LSBLK)]
    assert "MemTotal" in inv["errors"]["cat /proc/meminfo"]
    assert inv["nics"][0]["driver"] == "bnxt_en"


def test_collect_on_this_machine():
    """The real tools, read-only; whatever is absent here is listed, not raised."""
    from octoprobe.perf.tools import local_runner

    inv = collect_hardware(local_runner, timeout=20)
    assert set(inv) == {"cpu", "memory", "disks", "nics", "system", "missing", "errors"}
    if "lscpu" not in inv["missing"]:
        assert inv["cpu"]["threads"] >= 1
    assert inv["memory"]["total_bytes"] > 0
