"""octoprobe.plugin, run through pytester: options, markers, skip reasons,
configuration errors that stop the session before any test, destructive
gating, call traces and samples on reports, and no cloud unless asked for."""

from __future__ import annotations

from pathlib import Path

import openstack.config  # noqa: F401  (imported here: pytester drops modules first imported by an inner run)
import openstack.connection  # noqa: F401
import pytest

import octoprobe.plugin  # noqa: F401
from octoprobe.target import CloudTarget

pytest_plugins = ["pytester"]

DATA = Path(__file__).parent / "data" / "harness"
CLOUDS = DATA / "clouds.yaml"
EXAMPLE_INVENTORY = Path(__file__).parents[2] / "octoprobe" / "examples" / "inventory.example.yaml"
# Load the plugin by module name, and block the entry point (once registered)
# so that the plugin is not registered twice. The plugin is imported above, so
# pytest cannot assert-rewrite it (and says so).
PLUGIN_ARGS = (
    "-p",
    "no:octoprobe",
    "-p",
    "octoprobe.plugin",
    "-p",
    "no:cacheprovider",
    "-W",
    "ignore::pytest.PytestAssertRewriteWarning",
)


@pytest.fixture(autouse=True)
def cloud_env(monkeypatch):
    for name in ("OS_CLOUD", "OS_CLIENT_SECURE_FILE", "OS_AUTH_URL", "OS_PASSWORD", "OS_USERNAME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(CLOUDS))


@pytest.fixture
def no_connections(monkeypatch):
    """Fail loudly if anything tries to connect to a cloud."""

    def connect(self):
        raise AssertionError(f"unexpected connection to {self.name}")

    monkeypatch.setattr(CloudTarget, "connect", connect)


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest(*PLUGIN_ARGS, *args)


def inline(pytester: pytest.Pytester, *args: str):
    return pytester.inline_run(*PLUGIN_ARGS, *args)


def reports(reprec, nodeid_part: str, when: str = "call"):
    found = [r for r in reprec.getreports("pytest_runtest_logreport") if nodeid_part in r.nodeid and r.when == when]
    assert found, f"no {when} report for {nodeid_part}"
    return found[0]


# ---------------------------------------------------------------- no cloud unless asked for


def test_tests_without_cloud_fixtures_run_offline(pytester, monkeypatch, no_connections):
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(pytester.path / "there-is-no-clouds.yaml"))
    pytester.makepyfile(
        """
        def test_plain():
            assert True

        def test_harness_fixtures(run, resources, samples, calltrace, schemas):
            assert resources.run is run
            samples.add("x", 1.0, "s")
            assert len(calltrace) == 0
            assert schemas.mode == "strict"
        """
    )
    result = run(pytester)
    result.assert_outcomes(passed=2)


def test_options_are_documented(pytester):
    result = run(pytester, "--help")
    for option in (
        "--cloud=NAME",
        "--admin-cloud=NAME",
        "--alt-cloud=NAME",
        "--profile=NAME",
        "--inventory=FILE",
        "--allow-destructive",
        "--schema-mode",
        "--run-id=ID",
        "--api-timeout=SECONDS",
    ):
        result.stdout.fnmatch_lines([f"*{option}*"])


def test_markers_are_registered(pytester):
    result = run(pytester, "--markers")
    for marker in ("capability(name, id)", "gate(*names)", "destructive(what)", "needs_admin", "needs_alt"):
        result.stdout.fnmatch_lines([f"@pytest.mark.{marker}*"])


def test_report_header(pytester):
    pytester.makepyfile("def test_a(): pass")
    result = run(pytester, "--run-id", "hdr1234", "--cloud", "lab", "--schema-mode", "lenient")
    result.stdout.fnmatch_lines(
        [
            "octoprobe: run hdr1234, cloud 'lab' (--cloud), admin cloud -, alt cloud -, schema mode lenient",
            "octoprobe: destructive tests skipped (no --allow-destructive)",
        ]
    )


# ---------------------------------------------------------------- configuration errors stop the session


def assert_usage_error(result: pytest.RunResult, *lines: str) -> None:
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str() + result.stderr.str()
    result.stderr.fnmatch_lines(list(lines))
    assert "passed" not in result.stdout.str() and "PASSED" not in result.stdout.str()


def test_unknown_cloud(pytester):
    pytester.makepyfile("def test_a(): pass")
    result = run(pytester, "--cloud", "lba")
    assert_usage_error(
        result,
        f"ERROR: octoprobe: {CLOUDS}:3: clouds.lba: no cloud named 'lba' (chosen by --cloud); did you mean 'lab'?*",
    )


def test_missing_auth_key(pytester):
    pytester.makepyfile("def test_a(): pass")
    result = run(pytester, "--admin-cloud", "no-password")
    assert_usage_error(result, f"ERROR: octoprobe: {CLOUDS}:38: clouds.no-password.auth.password: missing auth key*")


def test_missing_clouds_yaml(pytester, monkeypatch):
    missing = pytester.path / "nope.yaml"
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(missing))
    pytester.makepyfile("def test_a(): pass")
    result = run(pytester, "--cloud", "lab")
    assert_usage_error(
        result, f"ERROR: octoprobe: clouds.lab: $OS_CLIENT_CONFIG_FILE names {missing}, which does not exist"
    )


def test_default_cloud_is_resolved_when_a_test_needs_it(pytester, no_connections):
    pytester.makepyfile(
        """
        def test_offline():
            pass

        def test_online(conn):
            pass
        """
    )
    result = run(pytester)
    assert_usage_error(
        result, "ERROR: octoprobe: *clouds.yaml:3: clouds.octoprobe: no cloud named 'octoprobe' (the default)*"
    )
    # without the test that needs a cloud, nothing is resolved
    run(pytester, "-k", "offline").assert_outcomes(passed=1, deselected=1)
    # collecting only never needs a cloud
    assert run(pytester, "--collect-only").ret == pytest.ExitCode.OK


def test_os_cloud_chooses_the_default(pytester, monkeypatch, no_connections):
    monkeypatch.setenv("OS_CLOUD", "nope")
    pytester.makepyfile("def test_online(target): pass")
    assert_usage_error(run(pytester), "*clouds.nope: no cloud named 'nope' (chosen by $OS_CLOUD)*")


def test_bad_inventory(pytester):
    inventory = pytester.path / "lab.yaml"
    inventory.write_text(
        "racks:\n  - name: r1\n    nodes:\n      - name: n1\n        roles: [db]\n        ssh: {host: h, user: u}\n"
    )
    pytester.makepyfile("def test_a(): pass")
    result = run(pytester, "--inventory", str(inventory))
    assert_usage_error(result, f"ERROR: octoprobe: {inventory}:5: racks[[]0].nodes[[]0].roles[[]0]: unknown role 'db'*")


@pytest.mark.parametrize(
    "args, line",
    [
        (("--run-id", "Bad-Id"), "ERROR: --run-id: invalid run id 'Bad-Id'*"),
        (("--api-timeout", "0"), "ERROR: --api-timeout must be positive, got 0"),
        (("--cloud", "lab", "--alt-cloud", "lab"), "ERROR: --alt-cloud 'lab' is the cloud under test*"),
        (
            ("--cloud", "lab", "--alt-cloud", "lab-same-project"),
            "ERROR: octoprobe: --alt-cloud: the alt cloud 'lab-same-project' must be a second tenant*",
        ),
    ],
)
def test_bad_options(pytester, args, line):
    pytester.makepyfile("def test_a(): pass")
    assert_usage_error(run(pytester, *args), line)


def test_schema_mode_choices(pytester):
    pytester.makepyfile("def test_mode(schemas):\n    assert schemas.mode == 'lenient'\n")
    run(pytester, "--schema-mode", "lenient").assert_outcomes(passed=1)
    result = run(pytester, "--schema-mode", "loose")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*invalid choice: 'loose'*"])


def test_malformed_markers(pytester):
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.capability("compute-servers-create")
        def test_a():
            pass
        """
    )
    assert_usage_error(
        run(pytester), "ERROR: octoprobe: test_malformed_markers.py::test_a: @pytest.mark.capability needs*"
    )
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.destructive
        def test_b():
            pass
        """
    )
    assert_usage_error(
        run(pytester, "--allow-destructive"),
        "ERROR: octoprobe: test_malformed_markers.py::test_b: @pytest.mark.destructive needs a description*",
    )


# ---------------------------------------------------------------- markers, skips, fixtures


def test_skip_reasons_for_admin_alt_inventory(pytester, no_connections):
    pytester.makepyfile(
        """
        import pytest

        def test_admin(admin_conn):
            pass

        def test_alt(alt_conn):
            pass

        @pytest.mark.needs_admin
        def test_marked_admin():
            pass

        @pytest.mark.needs_alt
        def test_marked_alt():
            pass

        def test_lab(inventory):
            pass
        """
    )
    result = run(pytester, "--cloud", "lab", "-rs")
    result.assert_outcomes(skipped=5)
    result.stdout.fnmatch_lines(
        [
            "SKIPPED [[]1[]] *:3: needs an admin cloud: give --admin-cloud NAME (a clouds.yaml entry with admin rights)",
            "SKIPPED [[]1[]] *:6: needs a second tenant: give --alt-cloud NAME (a clouds.yaml entry for another project)",
            "SKIPPED [[]1[]] *:9: needs an admin cloud: give --admin-cloud NAME*",
            "SKIPPED [[]1[]] *:13: needs a second tenant: give --alt-cloud NAME*",
            "SKIPPED [[]1[]] *:17: needs a lab inventory: give --inventory FILE",
        ]
    )


class FakeConnection:
    def __init__(self, name):
        self.name = name
        self.session = FakeSession()

    def __eq__(self, other):
        return other == f"connection to {self.name}"

    def close(self):
        pass


class FakeSession:
    def request(self, url, method, **kwargs):
        raise AssertionError("no request expected")


def test_admin_alt_and_inventory_when_given(pytester, monkeypatch):
    monkeypatch.setattr(CloudTarget, "connect", lambda self: FakeConnection(self.name))
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.needs_admin
        @pytest.mark.needs_alt
        def test_all(target, conn, admin_conn, alt_conn, inventory):
            assert (conn, admin_conn, alt_conn) == (
                "connection to lab", "connection to lab-admin", "connection to lab-alt")
            assert target.cloud.project == "qual" and target.alt.project == "qual-alt"
            assert inventory.node("stor-r1-1").osds == (0, 1, 2)
        """
    )
    result = run(
        pytester,
        "--cloud",
        "lab",
        "--admin-cloud",
        "lab-admin",
        "--alt-cloud",
        "lab-alt",
        "--inventory",
        str(EXAMPLE_INVENTORY),
    )
    result.assert_outcomes(passed=1)


def test_destructive_tests_skip_without_the_flag(pytester):
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.destructive("powers off one storage node through its BMC")
        def test_power_off():
            pass
        """
    )
    result = run(pytester, "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(
        [
            "SKIPPED [[]1[]] *destructive test (powers off one storage node through its BMC): give --allow-destructive to run it",
        ]
    )
    assert "DESTRUCTIVE" not in result.stdout.str()


def test_destructive_tests_say_what_they_do_first(pytester):
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.destructive(what="kills osd.3's disk")
        def test_kill_disk():
            print("killing now")

        def test_harmless():
            pass
        """
    )
    result = run(pytester, "--allow-destructive", "-s")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            "octoprobe: --allow-destructive: 1 destructive test(s) will run:",
            "  test_destructive_tests_say_what_they_do_first.py::test_kill_disk: kills osd.3's disk",
            "*DESTRUCTIVE test_destructive_tests_say_what_they_do_first.py::test_kill_disk: kills osd.3's disk",
            "*killing now*",
        ]
    )


def test_capability_and_gates_on_the_report(pytester):
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.capability("compute-flavors-list", id="e36c0eaa-dff5-4082-ad1f-3f9a80aa3f59")
        @pytest.mark.gate("boot_time", "boot_time_p95")
        def test_flavors():
            pass
        """
    )
    reprec = inline(pytester)
    report = reports(reprec, "test_flavors")
    props = dict(report.user_properties)
    assert props["capability"] == "compute-flavors-list"
    assert props["capability_id"] == "e36c0eaa-dff5-4082-ad1f-3f9a80aa3f59"
    assert [v for k, v in report.user_properties if k == "gate"] == ["boot_time", "boot_time_p95"]


def test_run_id_is_shared_and_tagged(pytester):
    pytester.makepyfile(
        """
        def test_run(run, resources):
            assert run.run_id == "ci1234"
            assert resources.run is run
            assert run.name("vm", suffix="a") == "octoprobe-ci1234-vm-a"
        """
    )
    run(pytester, "--run-id", "ci1234").assert_outcomes(passed=1)


def test_cleanup_failure_is_a_teardown_error_and_keeps_the_test_failure(pytester):
    pytester.makepyfile(
        """
        def test_creates_then_fails(resources):
            done = []
            resources.add("server vm1", lambda: done.append("vm1"))
            resources.add("volume v1", lambda: 1 / 0)
            resources.add("port p1", lambda: done.append("p1"))
            assert False, "the test's own failure"
        """
    )
    result = run(pytester)
    result.assert_outcomes(failed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_creates_then_fails*",
            "*CleanupError: cleanup failed for 1 resource(s):*",
            "*volume v1: ZeroDivisionError: division by zero*",
        ]
    )
    result.stdout.fnmatch_lines(["*= FAILURES =*", "*AssertionError: the test's own failure*"])
    assert "def pytest_runtest_teardown" not in result.stdout.str()  # our hooks stay out of tracebacks


def test_microversion_helper_skips_with_the_reason(pytester):
    pytester.makepyfile(
        """
        from octoprobe.plugin import require_microversion

        def test_new_feature():
            require_microversion(("2.1", "2.20"), needs_min="2.26", service="compute")

        def test_old_feature():
            assert str(require_microversion(("2.1", "2.95"), needs_min="2.26")) == "2.26"
        """
    )
    result = run(pytester, "-rs")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["*compute supports microversions 2.1 to 2.20; the test needs at least 2.26"])


# ---------------------------------------------------------------- calls and samples on the report


def test_calls_and_samples_are_attached_to_the_report(pytester, monkeypatch):
    """A real openstacksdk connection from the clouds.yaml entry; only HTTP is fake."""
    clouds = pytester.path / "clouds.yaml"
    fake_cloud = (DATA / "fake_cloud.py").read_text()
    namespace: dict = {}
    exec(compile(fake_cloud, "fake_cloud.py", "exec"), namespace)
    clouds.write_text(namespace["CLOUDS_YAML"])
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(clouds))
    pytester.makeconftest(
        fake_cloud + "\n\nimport pytest\n\n@pytest.fixture\ndef fake_http(conn):\n    return install(conn)\n"
    )
    pytester.makepyfile(
        """
        def test_flavors(conn, fake_http, samples, calltrace):
            assert [f.name for f in conn.compute.flavors()] == ["m1.tiny"]
            samples.add("api.flavors", 0.01, "s", calls=len(calltrace))

        def test_no_calls():
            pass
        """
    )
    reprec = inline(pytester, "--cloud", "fake", "--api-timeout", "5")
    reprec.assertoutcome(passed=2)
    report = reports(reprec, "test_flavors")
    sections = dict(report.sections)
    calls = sections["octoprobe calls (call)"]
    assert "POST   201" in calls and "http://keystone.test/v3/auth/tokens  [req-token-1]" in calls
    assert "GET    200" in calls and "[req-flavors-1]" in calls
    assert namespace["TOKEN_ID"] not in calls and "hunter2-secret" not in calls
    [(name, samples)] = [(k, v) for k, v in report.user_properties if k == "octoprobe.samples"]
    assert samples[0]["metric"] == "api.flavors" and samples[0]["metadata"]["calls"] >= 3
    assert samples[0]["metadata"]["test"].endswith("test_flavors")
    quiet = reports(reprec, "test_no_calls")
    assert not [s for s in quiet.sections if s[0].startswith("octoprobe calls")]
    assert not [p for p in quiet.user_properties if p[0] == "octoprobe.samples"]


def test_guest_ssh_opens_shells_and_closes_them_after_the_test(tmp_path):
    """The fixture takes the key as a cloud hands it out (text) and closes
    every connection it opened when the test ends (a real pytest session)."""
    import subprocess
    import sys
    import textwrap

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()).decode()
    (tmp_path / "key.pem").write_text(pem)
    (tmp_path / "test_guest.py").write_text(textwrap.dedent(f"""
        import pathlib
        from octoprobe.perf.guest import GuestShell

        closed = []
        GuestShell.close = lambda self: closed.append(self.address)

        def test_open(guest_ssh):
            shell = guest_ssh("192.0.2.7", pathlib.Path({str(tmp_path / 'key.pem')!r}).read_text(), user="debian")
            assert (shell.address, shell.user, shell.pkey.get_name()) == ("192.0.2.7", "debian", "ssh-ed25519")

        def test_closed_after():
            assert closed == ["192.0.2.7"]
    """))
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 passed" in proc.stdout
