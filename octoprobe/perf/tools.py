"""Running a measurement tool through a runner, and telling "not installed" apart.

A *runner* here is any callable ``(argv, timeout) -> (returncode, stdout, stderr)``:
:func:`local_runner` runs on this machine, :func:`from_shell_runner` adapts an
``octoprobe.shell`` runner (local, namespace, or SSH) so the same measuring code
runs on the machine, on a lab node, or inside a VM.
"""

from __future__ import annotations

import re
import subprocess
from typing import Callable, Sequence

__all__ = ["RunnerFn", "ToolMissing", "ToolTimeout", "local_runner", "from_shell_runner", "is_missing"]

#: ``(argv, timeout) -> (returncode, stdout, stderr)``
RunnerFn = Callable[[Sequence[str], float], "tuple[int, str, str]"]

#: Exit status of a shell that could not find (127) or execute (126) the command.
_MISSING_STATUS = (126, 127)


class ToolMissing(Exception):
    """A measurement tool is not installed where it was needed."""

    def __init__(self, tool: str, where: str = "this machine"):
        self.tool = tool
        self.where = where
        super().__init__(f"{tool} is not installed on {where} (install the {tool} package there)")


class ToolTimeout(Exception):
    """A tool ran past its timeout and was killed."""

    def __init__(self, argv: Sequence[str], timeout: float):
        self.argv = tuple(argv)
        self.timeout = timeout
        super().__init__(f"{' '.join(self.argv)}: no result after {timeout:g} s")


def is_missing(tool: str, returncode: int, stderr: str) -> bool:
    """Whether a run failed because ``tool`` itself could not be found or executed
    (shell status 126/127, or the shells' "not found" messages)."""
    if returncode in _MISSING_STATUS:
        return True
    if returncode == 0:
        return False
    pattern = rf"(^|[\s:]){re.escape(tool)}: (command )?not found|exec: \"?{re.escape(tool)}\"?: not found"
    return re.search(pattern, stderr, re.MULTILINE) is not None


def local_runner(argv: Sequence[str], timeout: float) -> tuple[int, str, str]:
    """Run ``argv`` on this machine (no shell) with a timeout. A program that is
    not installed gives status 127, as a shell would."""
    try:
        proc = subprocess.run(
            list(argv), capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired as exc:
        raise ToolTimeout(argv, timeout) from exc
    except FileNotFoundError:
        return 127, "", f"{argv[0]}: command not found"
    return proc.returncode, proc.stdout, proc.stderr


def from_shell_runner(runner) -> RunnerFn:
    """Adapt an ``octoprobe.shell.Runner`` (``.run(argv, timeout=, check=)``) to a
    :data:`RunnerFn`."""
    from octoprobe.shell import CommandError

    def run(argv: Sequence[str], timeout: float) -> tuple[int, str, str]:
        try:
            result = runner.run(list(argv), timeout=timeout, check=False)
        except CommandError as exc:
            if exc.result is None and "command not found" in str(exc):
                return 127, "", str(exc)
            if exc.result is None and "timed out" in str(exc):
                raise ToolTimeout(argv, timeout) from exc
            raise
        return result.returncode, result.stdout, result.stderr

    return run
