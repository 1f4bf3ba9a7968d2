"""The workload's ``rados`` over any runner, e.g. SSH to a lab's admin node.

:class:`~octoprobe.chaos.workload.RadosObjects` passes object contents
through files in a local scratch directory, so its runner must share this
machine's file system. :class:`PipedRadosObjects` passes them through the
command's stdin and stdout instead, base64-encoded (a runner carries text),
through a scratch file on the *runner's* side that the command removes
itself::

    put:  f=$(mktemp) && trap 'rm -f "$f"' EXIT && base64 -d >"$f" && rados … put NAME "$f"
    get:  f=$(mktemp) && trap 'rm -f "$f"' EXIT && rados … get NAME "$f" && base64 -w0 "$f"

``rados``'s exit status and messages are kept (ENOENT still says "No such
file or directory"), so the workload and the checker see what they see
locally.
"""

from __future__ import annotations

import base64
import binascii
import shlex

from octoprobe.shell import CommandError

from .workload import ObjectMissing, RadosObjects

__all__ = ["PipedRadosObjects"]

_SCRATCH = "f=$(mktemp) && trap 'rm -f \"$f\"' EXIT"


class PipedRadosObjects(RadosObjects):
    """:class:`RadosObjects` whose data crosses the runner's stdin/stdout."""

    def _script(self, *args: str, before: str = "", after: str = "") -> list[str]:
        rados = shlex.join([*self._base, *args])
        parts = [_SCRATCH, before, f'{rados} "$f"', after]
        return ["sh", "-c", " && ".join(p for p in parts if p)]

    def put(self, name: str, data: bytes, *, timeout: float) -> None:
        self.runner.run(self._script("put", name, before='base64 -d >"$f"'), timeout=timeout,
                        input=base64.b64encode(data).decode("ascii"))

    def get(self, name: str, *, timeout: float) -> bytes:
        result = self.runner.run(self._script("get", name, after='base64 -w0 "$f"'), timeout=timeout, check=False)
        if result.returncode != 0:
            if "(2) No such file or directory" in result.stderr:
                raise ObjectMissing(result.argv, "no such object", result)
            detail = (result.stderr or result.stdout).strip()[-300:] or "(no output)"
            raise CommandError(result.argv, f"exit status {result.returncode}: {detail}", result)
        try:
            return base64.b64decode(result.stdout.strip(), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise CommandError(result.argv, f"the object's content did not come back as base64: {exc}",
                               result) from exc
