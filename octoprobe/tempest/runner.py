"""Run Tempest in a workspace of our own and bring back its results.

:func:`prepare_workspace` writes ``etc/tempest.conf`` (0600),
``.stestr.conf`` (Tempest's discovery, as ``tempest init`` would) and the
include list into a directory. :func:`run_tempest` lists the selected tests
(``stestr list``), runs them (``stestr run --subunit``) as a subprocess in
its own process group with an overall deadline, prints progress as results
arrive, keeps the subunit stream (``tempest.subunit``) and returns the
parsed results.

Tempest deletes its dynamic credentials (projects, users) and what its
tests created; :func:`snapshot` / :func:`leftovers` check that by listing
the cloud before and after, and :func:`delete_leftovers` removes what is
left *and* carries Tempest's resource name prefix (nothing else is touched:
the cloud may be shared).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from octoprobe.tempest.results import TempestResult, parse_subunit

__all__ = [
    "TempestNotInstalled",
    "TempestRunError",
    "Workspace",
    "RunOutcome",
    "find_tool",
    "prepare_workspace",
    "list_tests",
    "run_tempest",
    "Snapshot",
    "snapshot",
    "leftovers",
    "delete_leftovers",
    "RESOURCE_PREFIX",
]

#: Tempest names what it creates ``tempest-...`` ([DEFAULT] resource_name_prefix).
RESOURCE_PREFIX = "tempest"
_INSTALL_HINT = ("install the Tempest extras into octoprobe's environment: "
                 "pip install 'tempest>=44' stestr python-subunit")


class TempestNotInstalled(RuntimeError):
    """tempest / stestr cannot be found or imported."""


class TempestRunError(RuntimeError):
    """The run could not produce results (listing failed, no stream...)."""


def find_tool(name: str) -> str:
    """The ``name`` executable of this Python environment, else of PATH."""
    here = Path(sys.executable).parent / name
    if here.is_file() and os.access(here, os.X_OK):
        return str(here)
    found = shutil.which(name)
    if not found:
        raise TempestNotInstalled(f"no {name!r} executable next to {sys.executable} or on PATH; {_INSTALL_HINT}")
    return found


def _tempest_package_dir() -> Path:
    try:
        import tempest
    except ImportError:
        raise TempestNotInstalled(f"cannot import tempest; {_INSTALL_HINT}") from None
    return Path(tempest.__file__).resolve().parent


@dataclass(frozen=True)
class Workspace:
    root: Path

    @property
    def etc(self) -> Path:
        return self.root / "etc"

    @property
    def config(self) -> Path:
        return self.etc / "tempest.conf"

    @property
    def include_list(self) -> Path:
        return self.root / "include-list.txt"

    @property
    def subunit(self) -> Path:
        return self.root / "tempest.subunit"

    @property
    def stderr(self) -> Path:
        return self.root / "stestr-stderr.log"

    def env(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """The environment Tempest runs in: its config from here, never the user's."""
        env = dict(os.environ if base is None else base)
        env["TEMPEST_CONFIG_DIR"] = str(self.etc)
        env["TEMPEST_CONFIG"] = "tempest.conf"
        env.pop("OS_CLOUD", None)  # Tempest reads its clouds from tempest.conf only
        env["PYTHONUNBUFFERED"] = "1"
        return env


def prepare_workspace(root: Path, config_text: str, include_list: str) -> Workspace:
    """Write the workspace's files; ``config_text`` is tempest.conf (written 0600)."""
    ws = Workspace(Path(root).resolve())
    for d in (ws.root, ws.etc, ws.root / "logs", ws.root / "lock"):
        d.mkdir(parents=True, exist_ok=True)
    # Tempest's stream and logs may quote what its tests sent (server passwords): owner only
    os.chmod(ws.root, 0o700)
    fd = os.open(ws.config, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(config_text)
    package = _tempest_package_dir()
    (ws.root / ".stestr.conf").write_text(
        "[DEFAULT]\n"
        f"test_path={package / 'test_discover'}\n"
        f"top_dir={package.parent}\n"
        "group_regex=([^\\.]*\\.)*\n",
        encoding="utf-8",
    )
    ws.include_list.write_text(include_list, encoding="utf-8")
    return ws


def list_tests(ws: Workspace, *, timeout: float = 300.0) -> list[str]:
    """The test ids the include list selects (Tempest's discovery, no cloud needed)."""
    if not (ws.root / ".stestr").is_dir():
        init = subprocess.run([find_tool("stestr"), "init"], cwd=ws.root, env=ws.env(), capture_output=True,
                              text=True, timeout=60)
        if init.returncode != 0:
            raise TempestRunError(f"stestr init failed in {ws.root}: {(init.stderr or init.stdout).strip()[-500:]}")
    cmd = [find_tool("stestr"), "list", "--include-list", str(ws.include_list)]
    try:
        done = subprocess.run(cmd, cwd=ws.root, env=ws.env(), capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise TempestRunError(f"listing Tempest's tests took over {timeout:g} s") from None
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
        raise TempestRunError(f"stestr list failed (exit {done.returncode}):\n{tail}")
    return parse_test_listing(done.stdout)


_TEST_ID_RE = re.compile(r"^[A-Za-z_]\w*(\.\w+)+(\[[^\]]*\])?$")


def parse_test_listing(text: str) -> list[str]:
    """The test ids in ``stestr list``'s output — Tempest's and its
    installed plugins' (``barbican_tempest_plugin.tests…``); log lines and
    warnings are left out."""
    return [line.strip() for line in text.splitlines() if _TEST_ID_RE.match(line.strip())]


@dataclass
class RunOutcome:
    results: list[TempestResult]
    listed: list[str]
    wall_time: float
    concurrency: int
    exit_code: int | None  # stestr's; None when killed at the deadline
    timed_out: bool = False
    subunit_path: Path | None = None
    stderr_tail: str = ""


class _Tee:
    """A binary reader that copies what is read into a file."""

    def __init__(self, source, sink):
        self._source, self._sink = source, sink

    def read(self, n: int = -1) -> bytes:
        data = self._source.read(n)
        if data:
            self._sink.write(data)
        return data

    def readline(self) -> bytes:
        data = self._source.readline()
        if data:
            self._sink.write(data)
        return data


def stestr_run_command(ws: Workspace, concurrency: int, stestr_args: Sequence[str] = ()) -> list[str]:
    """``stestr run`` of the include list, subunit on stdout, the user's arguments last."""
    return [find_tool("stestr"), "run", "--include-list", str(ws.include_list), "--concurrency", str(concurrency),
            "--subunit", *stestr_args]


def run_tempest(
    ws: Workspace,
    *,
    concurrency: int = 2,
    timeout: float = 3600.0,
    secrets: Iterable[str] = (),
    progress: Callable[[str], None] | None = None,
    stestr_args: Sequence[str] = (),
) -> RunOutcome:
    """Run the include list's tests; ``progress`` gets one line per finished
    test. ``stestr_args`` go to ``stestr run`` after ours (e.g. an
    ``--exclude-regex`` that narrows the list)."""
    if concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, got {concurrency}")
    if timeout <= 0:
        raise ValueError(f"timeout must be positive, got {timeout}")
    secrets = [s for s in secrets if s]
    start = time.monotonic()
    listed = list_tests(ws, timeout=min(timeout, 300.0))
    total = len(listed)
    if progress:
        progress(f"tempest: {total} test(s) selected, concurrency {concurrency}")
    cmd = stestr_run_command(ws, concurrency, stestr_args)
    done = [0]
    killed = threading.Event()

    def on_result(r: TempestResult) -> None:
        done[0] += 1
        if progress:
            progress(f"[{done[0]:>3}/{total}] {r.status:<4} {r.test_id.split('[', 1)[0]}"
                     + (f" ({r.duration:.2f}s)" if r.duration is not None else ""))

    with open(ws.stderr, "wb") as err, open(ws.subunit, "wb") as raw:
        proc = subprocess.Popen(cmd, cwd=ws.root, env=ws.env(), stdout=subprocess.PIPE, stderr=err,
                                start_new_session=True)

        def kill_at_deadline() -> None:
            remaining = timeout - (time.monotonic() - start)
            try:
                proc.wait(timeout=max(remaining, 0.1))
            except subprocess.TimeoutExpired:
                killed.set()
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                    proc.wait(timeout=30)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    try:
                        os.killpg(proc.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass

        guard = threading.Thread(target=kill_at_deadline, name="tempest-deadline", daemon=True)
        guard.start()
        try:
            results = parse_subunit(_Tee(proc.stdout, raw), secrets=secrets, on_result=on_result)
        finally:
            proc.stdout.close()
            exit_code = proc.wait()
            guard.join(timeout=60)
    tail = "\n".join(ws.stderr.read_text(errors="replace").strip().splitlines()[-15:])
    for secret in secrets:
        tail = tail.replace(secret, "<redacted>")
    return RunOutcome(
        results=results,
        listed=listed,
        wall_time=time.monotonic() - start,
        concurrency=concurrency,
        exit_code=None if killed.is_set() else exit_code,
        timed_out=killed.is_set(),
        subunit_path=ws.subunit,
        stderr_tail=tail,
    )


# ------------------------------------------------------------------ leftovers


@dataclass(frozen=True)
class Snapshot:
    """Resource ids -> names, per kind (projects, users, servers...)."""

    kinds: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


def _listers(conn: Any, available: Mapping[str, bool]) -> dict[str, Callable[[], Iterable[Any]]]:
    listers: dict[str, Callable[[], Iterable[Any]]] = {
        "projects": lambda: conn.identity.projects(),
        "users": lambda: conn.identity.users(),
        "roles": lambda: conn.identity.roles(),
        "servers": lambda: conn.compute.servers(all_projects=True),
        "images": lambda: conn.image.images(),
        "flavors": lambda: conn.compute.flavors(is_public=None),
    }
    if available.get("neutron"):
        listers.update({
            "networks": lambda: conn.network.networks(),
            "routers": lambda: conn.network.routers(),
            "security_groups": lambda: conn.network.security_groups(),
        })
    if available.get("cinder"):
        listers["volumes"] = lambda: conn.block_storage.volumes(all_projects=True)
        listers["snapshots"] = lambda: conn.block_storage.snapshots(all_projects=True)
    return listers


def snapshot(conn: Any, available: Mapping[str, bool]) -> tuple[Snapshot, list[str]]:
    """What the admin connection sees now; the kinds it could not list, with why."""
    kinds: dict[str, dict[str, str]] = {}
    errors: list[str] = []
    for kind, lister in _listers(conn, available).items():
        try:
            kinds[kind] = {str(r.id): str(getattr(r, "name", "") or "") for r in lister()}
        except Exception as exc:
            errors.append(f"{kind}: {type(exc).__name__}: {str(exc).splitlines()[0][:160] if str(exc) else ''}")
    return Snapshot(kinds), errors


def leftovers(before: Snapshot, after: Snapshot) -> dict[str, dict[str, str]]:
    """What exists after and did not before, per kind (only kinds listed both times)."""
    out: dict[str, dict[str, str]] = {}
    for kind, now in after.kinds.items():
        if kind not in before.kinds:
            continue
        new = {rid: name for rid, name in now.items() if rid not in before.kinds[kind]}
        if new:
            out[kind] = new
    return out


#: In dependency order: what uses something goes before it (a volume cloned from an image, a
#: snapshot of a volume, a server on a network), projects and roles last.
_DELETERS = {
    "servers": lambda c, i: c.compute.delete_server(i, ignore_missing=True),
    "snapshots": lambda c, i: c.block_storage.delete_snapshot(i, ignore_missing=True),
    "volumes": lambda c, i: c.block_storage.delete_volume(i, ignore_missing=True),
    "images": lambda c, i: c.image.delete_image(i, ignore_missing=True),
    "flavors": lambda c, i: c.compute.delete_flavor(i, ignore_missing=True),
    "routers": lambda c, i: c.network.delete_router(i, ignore_missing=True),
    "networks": lambda c, i: c.network.delete_network(i, ignore_missing=True),
    "security_groups": lambda c, i: c.network.delete_security_group(i, ignore_missing=True),
    "users": lambda c, i: c.identity.delete_user(i, ignore_missing=True),
    "projects": lambda c, i: c.identity.delete_project(i, ignore_missing=True),
    "roles": lambda c, i: c.identity.delete_role(i, ignore_missing=True),
}


def delete_leftovers(conn: Any, found: Mapping[str, Mapping[str, str]], *, prefix: str = RESOURCE_PREFIX,
                     retry_for: float = 60.0, interval: float = 2.0) -> list[str]:
    """Delete the leftovers named ``<prefix>...`` (servers first, projects
    last); returns one line per resource: deleted, or why not. Deletes are
    often asynchronous (a volume still going when its image is deleted
    answers 409), so what failed is tried again, in the same order, until
    ``retry_for`` seconds have passed."""
    lines: dict[tuple[str, str], str] = {}
    pending: list[tuple[str, str, str]] = []
    for kind in _DELETERS:
        for rid, name in (found.get(kind) or {}).items():
            if not name.lower().startswith(prefix.lower()):
                lines[(kind, rid)] = f"{kind} {rid} ({name or 'no name'}): left alone, not named {prefix}-*"
            else:
                pending.append((kind, rid, name))
    deadline = time.monotonic() + retry_for
    while pending:
        failed = []
        for kind, rid, name in pending:
            try:
                _DELETERS[kind](conn, rid)
                lines[(kind, rid)] = f"{kind} {rid} ({name}): deleted"
            except Exception as exc:
                lines[(kind, rid)] = f"{kind} {rid} ({name}): delete failed: {type(exc).__name__}"
                failed.append((kind, rid, name))
        if not failed or time.monotonic() + interval > deadline:
            break
        pending = failed
        time.sleep(interval)
    return list(lines.values())
