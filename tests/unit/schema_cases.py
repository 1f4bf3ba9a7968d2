"""What the schema unit tests of every service share: recorded response
bodies handed out as fresh copies, and the paths a body fails a schema at."""

from __future__ import annotations

import copy
from typing import Any, Callable, Mapping

from octoprobe.schemas import Schemas


def recorded_from(recordings: Mapping[str, Any]) -> Callable[[str], Any]:
    """``recorded(name)``: a deep copy of recording ``name``, for a test to change."""
    return lambda name: copy.deepcopy(recordings[name])


def problem_paths(schemas: Schemas, name: str, body: Any) -> list[str]:
    """The JSON paths at which ``body`` fails schema ``name``; the body must fail."""
    found = sorted(p.path for p in schemas.problems(name, body))
    assert found, f"the body matches schema {name} ({schemas.mode}); a failure was expected"
    return found
