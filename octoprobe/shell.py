"""Running commands with explicit timeouts, locally (and, through the same
interface, on remote hosts: see ``octoprobe.remote`` when it exists).

Every caller says how long a command may take. A command that fails raises
:class:`CommandError` carrying the command line, exit status and the tail of
its output, so error messages say what ran and what it said.
"""

from __future__ import annotations

import shlex
import subprocess
from dataclasses import dataclass
from typing import Mapping, Protocol, Sequence


@dataclass(frozen=True)
class Result:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


class CommandError(RuntimeError):
    """A command exited non-zero, could not start, or ran past its timeout."""

    def __init__(self, argv: Sequence[str], message: str, result: Result | None = None):
        self.argv = tuple(argv)
        self.result = result
        super().__init__(f"{shlex.join(self.argv)}: {message}")


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


class Runner(Protocol):
    """Runs one command and returns its result; raises CommandError on failure
    when ``check`` is true."""

    def run(
        self,
        argv: Sequence[str],
        *,
        timeout: float,
        check: bool = True,
        input: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> Result: ...


class LocalRunner:
    """Runs commands on this machine, optionally inside a network namespace."""

    def __init__(self, netns: str | None = None):
        self.netns = netns

    def _argv(self, argv: Sequence[str]) -> list[str]:
        if self.netns:
            return ["ip", "netns", "exec", self.netns, *argv]
        return list(argv)

    def run(
        self,
        argv: Sequence[str],
        *,
        timeout: float,
        check: bool = True,
        input: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> Result:
        full = self._argv(argv)
        try:
            proc = subprocess.run(
                full,
                input=input,
                capture_output=True,
                text=True,
                timeout=timeout,
                env=dict(env) if env is not None else None,
                stdin=subprocess.DEVNULL if input is None else None,
            )
        except subprocess.TimeoutExpired as exc:
            raise CommandError(full, f"timed out after {timeout:g} s") from exc
        except FileNotFoundError as exc:
            raise CommandError(full, f"command not found: {full[0]}") from exc
        result = Result(tuple(full), proc.returncode, proc.stdout, proc.stderr)
        if check and proc.returncode != 0:
            detail = _tail(proc.stderr) or _tail(proc.stdout) or "(no output)"
            raise CommandError(full, f"exit status {proc.returncode}: {detail}", result)
        return result

    def __repr__(self) -> str:
        return f"LocalRunner(netns={self.netns!r})"
