"""octoprobe's pytest plugin: the cloud under test, run-tagged resources,
call traces and samples for every test.

Registered as a ``pytest11`` entry point, so ``pytest conformance/ --cloud
mylab`` works as well as ``octoprobe run``. It adds:

options   ``--cloud NAME`` (default ``$OS_CLOUD``, else ``octoprobe``),
          ``--admin-cloud NAME``, ``--alt-cloud NAME`` (a second tenant),
          ``--profile NAME`` (gate profile), ``--inventory FILE`` (lab),
          ``--allow-destructive``, ``--schema-mode strict|lenient``,
          ``--run-id ID``, ``--api-timeout SECONDS``
markers   ``capability(name, id)``, ``gate(*names)``, ``destructive(what)``,
          ``needs_admin``, ``needs_alt``
fixtures  ``target`` (session: the clouds), ``conn`` / ``admin_conn`` /
          ``alt_conn`` (session: openstacksdk connections, opened on first
          use), ``run`` (the run's :class:`RunTag`), ``resources`` (per test:
          finalizers run after the test), ``samples``, ``calltrace``,
          ``schemas``, ``inventory``

Configuration errors (a clouds.yaml entry that does not exist or lacks a
key, a broken inventory, a bad run id, a malformed marker) stop the session
with one message before any test runs. The clouds a run needs are resolved
only when given on the command line or when a collected test uses a cloud
fixture, and nothing connects until a test asks for a connection, so the
plugin costs nothing in a test run that has no cloud (``pytest tests/unit``).

Each test's HTTP calls (method, URL, status, duration, request id; redacted)
are attached to its report as sections ``octoprobe calls (setup|call|teardown)``;
its samples as the ``octoprobe.samples`` user property; its capability as
``capability`` / ``capability_id`` user properties.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Any, Iterator, Mapping

import pytest

from octoprobe.calltrace import CallTrace, Tracer
from octoprobe.config_yaml import ConfigError
from octoprobe.inventory import Inventory, load_inventory
from octoprobe.resources import CleanupError, ResourceRegistry, RunTag, check_run_id, new_run_id
from octoprobe.samples import SampleCollector
from octoprobe.schemas import MODES, STRICT, MicroversionUnsupported, Schemas, negotiate
from octoprobe.target import DEFAULT_API_TIMEOUT, CloudTarget, Target, default_cloud_name, resolve_cloud

__all__ = ["require_microversion", "CLOUD_FIXTURES", "ADMIN_REASON", "ALT_REASON", "DESTRUCTIVE_REASON"]

#: Fixtures that need the cloud under test to be configured.
CLOUD_FIXTURES = frozenset({"target", "conn", "admin_conn", "alt_conn"})
ADMIN_REASON = "needs an admin cloud: give --admin-cloud NAME (a clouds.yaml entry with admin rights)"
ALT_REASON = "needs a second tenant: give --alt-cloud NAME (a clouds.yaml entry for another project)"
DESTRUCTIVE_REASON = "destructive test ({what}): give --allow-destructive to run it"
INVENTORY_REASON = "needs a lab inventory: give --inventory FILE"
_WORKER_RUN_ID = "octoprobe_run_id"

MARKERS = (
    "capability(name, id): the interop capability this test covers (e.g. 'compute-servers-create') "
    "and the test's stable id",
    "gate(*names): the gates of the --profile gate profile that judge this test's samples",
    "destructive(what): the test disrupts the cloud; `what` says how. Skipped unless --allow-destructive",
    "needs_admin: the test needs --admin-cloud; skipped without it",
    "needs_alt: the test needs --alt-cloud (a second tenant); skipped without it",
)


@dataclass(frozen=True)
class Settings:
    cloud: str | None
    admin_cloud: str | None
    alt_cloud: str | None
    profile: str | None
    inventory: str | None
    allow_destructive: bool
    schema_mode: str
    api_timeout: float

    @classmethod
    def from_config(cls, config: pytest.Config) -> "Settings":
        opt = config.option
        return cls(
            cloud=opt.octoprobe_cloud,
            admin_cloud=opt.octoprobe_admin_cloud,
            alt_cloud=opt.octoprobe_alt_cloud,
            profile=opt.octoprobe_profile,
            inventory=opt.octoprobe_inventory,
            allow_destructive=bool(opt.octoprobe_allow_destructive),
            schema_mode=opt.octoprobe_schema_mode,
            api_timeout=float(opt.octoprobe_api_timeout),
        )


def _check_alt(clouds: Mapping[str, CloudTarget | None]) -> None:
    cloud, alt = clouds.get("cloud"), clouds.get("alt")
    if cloud is None or alt is None:
        return
    if (cloud.auth_url, cloud.project) == (alt.auth_url, alt.project):
        raise ConfigError(
            f"the alt cloud {alt.name!r} must be a second tenant, but it uses the same "
            f"project ({alt.project}) as the cloud under test {cloud.name!r}",
            key="--alt-cloud",
        )


class State:
    """Everything the plugin keeps for one pytest session (in ``config.stash``)."""

    def __init__(self, settings: Settings, run: RunTag, env: Mapping[str, str]):
        self.settings = settings
        self.run = run
        self.env = env
        self.tracer = Tracer()
        self.inventory: Inventory | None = None
        self.clouds: dict[str, CloudTarget | None] = {}
        self._target: Target | None = None
        self._schemas: Schemas | None = None
        #: the cloud's API versions, asked once the first test connects (for the report)
        self.api_versions: dict[str, str] = {}

    def requested(self, role: str) -> str | None:
        return {"cloud": self.settings.cloud, "admin": self.settings.admin_cloud, "alt": self.settings.alt_cloud}[role]

    def resolve(self, role: str) -> CloudTarget | None:
        """The cloud in ``role`` (ConfigError if misconfigured); None for an
        optional role that was not given. Resolved once, then cached."""
        if role not in self.clouds:
            name = self.requested(role)
            cloud = None
            if name is not None or role == "cloud":
                cloud = resolve_cloud(name, role=role, env=self.env, api_timeout=self.settings.api_timeout)
            _check_alt({**self.clouds, role: cloud})
            self.clouds[role] = cloud
        return self.clouds[role]

    def target(self) -> Target:
        if self._target is None:
            self._target = Target(
                self.resolve("cloud"),
                self.resolve("admin"),
                self.resolve("alt"),
                on_connect=lambda conn: self.tracer.instrument(conn.session),
            )
        return self._target

    def schemas(self) -> Schemas:
        if self._schemas is None:
            self._schemas = Schemas(self.settings.schema_mode)
        return self._schemas

    def close(self) -> None:
        if self._target is not None:
            self._target.close()


STATE = pytest.StashKey[State]()
TRACE = pytest.StashKey[CallTrace]()
SAMPLES = pytest.StashKey[SampleCollector]()


def _state(config: pytest.Config) -> State:
    return config.stash[STATE]


# ---------------------------------------------------------------- options and configuration


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("octoprobe", "octoprobe: the cloud under test")
    default_name, source = default_cloud_name()
    group.addoption(
        "--cloud",
        dest="octoprobe_cloud",
        metavar="NAME",
        help="clouds.yaml entry of the cloud under test "
        f"(default: $OS_CLOUD, else 'octoprobe'; now {default_name!r} from {source})",
    )
    group.addoption(
        "--admin-cloud",
        dest="octoprobe_admin_cloud",
        metavar="NAME",
        help="clouds.yaml entry with admin rights on the same cloud; tests that need it skip without it",
    )
    group.addoption(
        "--alt-cloud",
        dest="octoprobe_alt_cloud",
        metavar="NAME",
        help="clouds.yaml entry for a second tenant (isolation tests); tests that need it skip without it",
    )
    group.addoption(
        "--profile", dest="octoprobe_profile", metavar="NAME",
        help="gate profile whose thresholds judge the samples (shipped: reference, dreamcompute; or a YAML file)"
    )
    group.addoption(
        "--baseline", dest="octoprobe_baseline", metavar="RUN",
        help="an earlier run (summary.json, report directory or history run id): a gate whose statistic "
             "regressed beyond the profile's tolerance fails",
    )
    group.addoption(
        "--inventory",
        dest="octoprobe_inventory",
        metavar="FILE",
        help="lab inventory (racks, nodes, SSH, BMCs, switch ports) for perf and chaos tests",
    )
    group.addoption(
        "--allow-destructive",
        dest="octoprobe_allow_destructive",
        action="store_true",
        default=False,
        help="run tests marked destructive (they power off nodes, kill disks, cut links)",
    )
    group.addoption(
        "--schema-mode",
        dest="octoprobe_schema_mode",
        choices=MODES,
        default=STRICT,
        help="strict: responses may not have fields the schemas do not know; lenient: extra fields allowed "
        "(default: %(default)s)",
    )
    group.addoption(
        "--run-id",
        dest="octoprobe_run_id",
        metavar="ID",
        help="the run's id, carried by every resource it creates (default: a new one)",
    )
    group.addoption(
        "--api-timeout",
        dest="octoprobe_api_timeout",
        metavar="SECONDS",
        type=float,
        default=DEFAULT_API_TIMEOUT,
        help="timeout of each API request (default: %(default)s)",
    )


def pytest_configure(config: pytest.Config) -> None:
    for line in MARKERS:
        config.addinivalue_line("markers", line)
    settings = Settings.from_config(config)
    if settings.api_timeout <= 0:
        raise pytest.UsageError(f"--api-timeout must be positive, got {settings.api_timeout:g}")
    workerinput = getattr(config, "workerinput", None)
    run_id = (workerinput or {}).get(_WORKER_RUN_ID) or config.option.octoprobe_run_id
    try:
        run = RunTag(check_run_id(run_id) if run_id else new_run_id())
    except ValueError as exc:
        raise pytest.UsageError(f"--run-id: {exc}") from None
    if settings.alt_cloud and settings.alt_cloud == (settings.cloud or default_cloud_name()[0]):
        raise pytest.UsageError(f"--alt-cloud {settings.alt_cloud!r} is the cloud under test; give a second tenant")
    state = State(settings, run, os.environ)
    try:
        if settings.inventory:
            state.inventory = load_inventory(settings.inventory)
        for role, name in (("cloud", settings.cloud), ("admin", settings.admin_cloud), ("alt", settings.alt_cloud)):
            if name is not None:
                state.resolve(role)
    except ConfigError as exc:
        raise pytest.UsageError(f"octoprobe: {exc}") from None
    config.stash[STATE] = state


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    """With pytest-xdist's ``-n N`` and no ``--dist`` of the user's, schedule
    by scope: the tests of one module (one class, for methods) run on one
    worker, so a module- or class-scoped resource (a booted server, a
    volume) is made once and shared as it is in a serial run. (xdist's
    ``loadgroup`` cannot be used: it renames items in a way pytest 9 ignores.)"""
    option = config.option
    given = any(a == "--dist" or a.startswith("--dist=") or a == "-d" for a in config.invocation_params.args)
    if getattr(option, "numprocesses", None) and not given and getattr(option, "dist", None) in ("no", "load"):
        option.dist = "loadscope"


#: ``-n auto``: so many workers at least and at most (see :func:`auto_workers`)
AUTO_WORKERS = (4, 8)


def auto_workers(cpus: int | None) -> int:
    """The workers of ``-n auto``: the CPUs of this machine, but at least 4
    and at most 8. The suites' tests wait on the cloud (boots, state
    changes, packets), not on this machine's CPUs, so a 2-CPU runner still
    gains from 4; and each worker makes its own session resources (a shared
    server), so a large runner would load the cloud more than it gains."""
    low, high = AUTO_WORKERS
    return max(low, min(cpus or 1, high))


@pytest.hookimpl(optionalhook=True, tryfirst=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """pytest-xdist's ``-n auto`` (:func:`auto_workers`); a number in
    ``$PYTEST_XDIST_AUTO_NUM_WORKERS`` still wins (xdist's own hook reads it)."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None
    return auto_workers(machine_cpus())


def machine_cpus() -> int | None:
    """The CPUs this process may run on (None when unknown)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """pytest-xdist: every worker uses the controller's run id."""
    node.workerinput[_WORKER_RUN_ID] = _state(node.config).run.run_id


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(STATE, None)
    if state is not None:
        state.close()


def pytest_report_header(config: pytest.Config) -> list[str]:
    state = _state(config)
    s = state.settings
    name, source = (s.cloud, "--cloud") if s.cloud else default_cloud_name(state.env)
    lines = [
        f"octoprobe: run {state.run.run_id}, cloud {name!r} ({source}), "
        f"admin cloud {s.admin_cloud or '-'}, alt cloud {s.alt_cloud or '-'}, schema mode {s.schema_mode}",
        f"octoprobe: destructive tests {'ALLOWED' if s.allow_destructive else 'skipped (no --allow-destructive)'}"
        + (f", inventory {s.inventory}" if s.inventory else "")
        + (f", profile {s.profile}" if s.profile else ""),
    ]
    return lines


# ---------------------------------------------------------------- markers and collection


def _marker_error(item: pytest.Item, message: str) -> pytest.UsageError:
    return pytest.UsageError(f"octoprobe: {item.nodeid}: {message}")


def _capability(item: pytest.Item) -> tuple[str, str] | None:
    marker = item.get_closest_marker("capability")
    if marker is None:
        return None
    args = list(marker.args)
    name = marker.kwargs.get("name", args.pop(0) if args else None)
    test_id = marker.kwargs.get("id", args.pop(0) if args else None)
    extra = set(marker.kwargs) - {"name", "id"}
    if args or extra or not isinstance(name, str) or not isinstance(test_id, str) or not name or not test_id:
        raise _marker_error(
            item,
            "@pytest.mark.capability needs a capability name and a test id, both non-empty strings, "
            "e.g. capability('compute-servers-create', '5de47127-9977-400a-936f-abcfbec1218f')",
        )
    return name, test_id


def _destructive_what(item: pytest.Item) -> str | None:
    marker = item.get_closest_marker("destructive")
    if marker is None:
        return None
    what = marker.kwargs.get("what", marker.args[0] if marker.args else None)
    if not isinstance(what, str) or not what.strip():
        raise _marker_error(
            item,
            "@pytest.mark.destructive needs a description of what the test does, "
            "e.g. destructive('powers off one storage node through its BMC')",
        )
    return what.strip()


def _gates(item: pytest.Item) -> list[str]:
    names: list[str] = []
    for marker in item.iter_markers("gate"):
        if not marker.args or not all(isinstance(a, str) and a for a in marker.args):
            raise _marker_error(item, "@pytest.mark.gate needs one or more gate names, e.g. gate('boot_time')")
        names.extend(a for a in marker.args if a not in names)
    return names


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    state = _state(config)
    s = state.settings
    for item in items:
        capability = _capability(item)
        if capability is not None:
            item.user_properties.append(("capability", capability[0]))
            item.user_properties.append(("capability_id", capability[1]))
        for gate in _gates(item):
            item.user_properties.append(("gate", gate))
        what = _destructive_what(item)
        if what is not None and not s.allow_destructive:
            item.add_marker(pytest.mark.skip(reason=DESTRUCTIVE_REASON.format(what=what)))
        if item.get_closest_marker("needs_admin") and not s.admin_cloud:
            item.add_marker(pytest.mark.skip(reason=ADMIN_REASON))
        if item.get_closest_marker("needs_alt") and not s.alt_cloud:
            item.add_marker(pytest.mark.skip(reason=ALT_REASON))


def _say(config: pytest.Config, line: str) -> None:
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(line)
    else:
        print(line, file=sys.stderr)


def pytest_collection_finish(session: pytest.Session) -> None:
    config = session.config
    state = _state(config)
    if config.option.collectonly:
        return
    runnable = [i for i in session.items if i.get_closest_marker("skip") is None]
    if any(CLOUD_FIXTURES & set(getattr(i, "fixturenames", ())) for i in runnable):
        try:
            state.resolve("cloud")
        except ConfigError as exc:
            raise pytest.UsageError(f"octoprobe: {exc}") from None
    if state.settings.allow_destructive:
        destructive = [(i, _destructive_what(i)) for i in runnable if i.get_closest_marker("destructive")]
        if destructive:
            _say(config, f"octoprobe: --allow-destructive: {len(destructive)} destructive test(s) will run:")
            for item, what in destructive:
                _say(config, f"  {item.nodeid}: {what}")


# ---------------------------------------------------------------- per-test hooks


def _recording(item: pytest.Item, phase: str) -> Any:
    trace = item.stash.setdefault(TRACE, CallTrace())
    return _state(item.config).tracer.recording(trace, phase)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    # Fixtures are set up in here, so their calls are recorded as "setup"
    # (a session fixture's calls land in the first test that sets it up).
    if item.get_closest_marker("destructive") and _state(item.config).settings.allow_destructive:
        _say(item.config, f"DESTRUCTIVE {item.nodeid}: {_destructive_what(item)}")
    __tracebackhide__ = True
    with _recording(item, "setup"):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    __tracebackhide__ = True
    with _recording(item, "call"):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    __tracebackhide__ = True
    with _recording(item, "teardown"):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Iterator[pytest.TestReport]:
    report = yield
    trace = item.stash.get(TRACE, None)
    if trace is not None:
        calls = trace.for_phase(call.when)
        if calls:
            report.sections.append((f"octoprobe calls ({call.when})", trace.render_text(calls)))
    samples = item.stash.get(SAMPLES, None)
    if call.when == "call" and samples:
        report.user_properties.append(("octoprobe.samples", samples.to_list()))
    if call.when == "teardown":
        _attach_to_allure(item.config, trace, samples)
    return report


def _attach_to_allure(config: pytest.Config, trace: CallTrace | None, samples: SampleCollector | None) -> None:
    """With allure-pytest writing results (``--alluredir``), the test's call
    trace and samples become attachments of its allure result."""
    if config.pluginmanager.get_plugin("allure_listener") is None:
        return
    import json

    import allure

    if trace is not None and len(trace):
        allure.attach(trace.render_text(list(trace)), name="octoprobe calls", attachment_type=allure.attachment_type.TEXT)
    if samples:
        allure.attach(json.dumps(samples.to_list(), indent=1), name="octoprobe samples",
                      attachment_type=allure.attachment_type.JSON)


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def run(request: pytest.FixtureRequest) -> RunTag:
    """The run's tag: its id, name prefix, metadata and tags."""
    return _state(request.config).run


@pytest.fixture(scope="session")
def target(request: pytest.FixtureRequest) -> Target:
    """The clouds of this run (cloud under test, admin, alt); connects lazily."""
    try:
        return _state(request.config).target()
    except ConfigError as exc:  # normally caught after collection already
        pytest.exit(f"octoprobe: {exc}", returncode=pytest.ExitCode.USAGE_ERROR)


@pytest.fixture(scope="session")
def conn(target: Target, request: pytest.FixtureRequest) -> Any:
    """An openstacksdk Connection to the cloud under test. On first use the
    services' versions are asked for, for the report's environment."""
    from octoprobe.discovery import api_versions

    connection = target.connection("cloud")
    _state(request.config).api_versions = api_versions(connection)
    return connection


@pytest.fixture(scope="session")
def admin_conn(target: Target) -> Any:
    """An openstacksdk Connection with admin rights; skips without --admin-cloud."""
    if not target.has("admin"):
        pytest.skip(ADMIN_REASON)
    return target.connection("admin")


@pytest.fixture(scope="session")
def alt_conn(target: Target) -> Any:
    """An openstacksdk Connection for a second tenant; skips without --alt-cloud."""
    if not target.has("alt"):
        pytest.skip(ALT_REASON)
    return target.connection("alt")


def _registry(run: RunTag) -> Iterator[ResourceRegistry]:
    registry = ResourceRegistry(run)
    yield registry
    failures = registry.cleanup()
    if failures:
        raise CleanupError(failures)


@pytest.fixture
def resources(run: RunTag) -> Iterator[ResourceRegistry]:
    """Finalizers for what this test creates; run after it, newest first.
    Failures become a teardown error (the test's own outcome is kept)."""
    yield from _registry(run)


@pytest.fixture(scope="module")
def module_resources(run: RunTag) -> Iterator[ResourceRegistry]:
    """The same for what a module-scoped fixture creates (a server the
    module's tests share): deleted when the module ends."""
    yield from _registry(run)


@pytest.fixture(scope="session")
def session_resources(run: RunTag) -> Iterator[ResourceRegistry]:
    """The same for a session-scoped fixture: deleted when the session ends."""
    yield from _registry(run)


@pytest.fixture
def guest_ssh() -> Iterator[Any]:
    """Open SSH to a guest: ``guest_ssh(address, private_key, user="root")``
    (the key as the cloud generated it, PEM/OpenSSH text, or a paramiko key)
    gives a runner ``shell(argv, timeout) -> (code, stdout, stderr)``; every
    connection is closed after the test."""
    from octoprobe.perf.guest import GuestShell
    from octoprobe.remote import load_private_key

    opened: list[Any] = []

    def connect(address: str, private_key: Any, user: str = "root") -> Any:
        pkey = load_private_key(private_key) if isinstance(private_key, str) else private_key
        shell = GuestShell(address, user, pkey)
        opened.append(shell)
        return shell

    yield connect
    for shell in opened:
        shell.close()


@pytest.fixture
def samples(request: pytest.FixtureRequest) -> SampleCollector:
    """This test's measurements, attached to its report."""
    collector = SampleCollector(test=request.node.nodeid)
    request.node.stash[SAMPLES] = collector
    return collector


@pytest.fixture
def calltrace(request: pytest.FixtureRequest) -> CallTrace:
    """The HTTP calls this test has made so far (recorded for every test)."""
    return request.node.stash.setdefault(TRACE, CallTrace())


@pytest.fixture(scope="session")
def schemas(request: pytest.FixtureRequest) -> Schemas:
    """Response schemas in the run's --schema-mode."""
    return _state(request.config).schemas()


@pytest.fixture(scope="session")
def inventory(request: pytest.FixtureRequest) -> Inventory:
    """The lab inventory; skips without --inventory."""
    inv = _state(request.config).inventory
    if inv is None:
        pytest.skip(INVENTORY_REASON)
    return inv


def require_microversion(
    advertised: Any,
    *,
    needs_min: str | None = None,
    needs_max: str | None = None,
    service: str = "the service",
    prefer: str = "lowest",
) -> Any:
    """:func:`octoprobe.schemas.negotiate`, skipping the test with the reason
    when the cloud cannot serve the needed microversions."""
    try:
        return negotiate(advertised, needs_min=needs_min, needs_max=needs_max, service=service, prefer=prefer)
    except MicroversionUnsupported as exc:
        pytest.skip(exc.reason)
