"""Gate judgement for a run: the ``--profile`` and ``--baseline`` options
turned into the judge a results collector calls at the end.

A baseline is an earlier run's ``summary.json``, its report directory, or a
run id (or unique prefix) of the history store. Errors name what was given.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from octoprobe.perf.gates import judge_tests
from octoprobe.perf.profiles import Profile, load_profile
from octoprobe.report.model import Gate, RunResult, TestResult

__all__ = ["BaselineError", "load_baseline", "make_judge"]


class BaselineError(ValueError):
    pass


def load_baseline(given: str, *, history: str | Path | None = None) -> RunResult:
    """The baseline run: a summary.json, a report directory, or a run id (or
    unique prefix, or ``latest``) of the history store."""
    path = Path(given).expanduser()
    if path.is_dir():
        path = path / "summary.json"
    if path.is_file():
        try:
            return RunResult.from_json(path.read_text(encoding="utf-8"))
        except (ValueError, KeyError, TypeError) as exc:
            raise BaselineError(f"baseline {given}: not an octoprobe summary.json ({exc})") from None
    if "/" in given or given.endswith(".json"):
        raise BaselineError(f"baseline {given}: no such file or report directory")
    from octoprobe.history.store import HistoryError, HistoryStore, default_history_path

    store_path = Path(history) if history else default_history_path()
    if not store_path.is_file():
        raise BaselineError(f"baseline {given}: not a file or report directory, and there is no history at "
                            f"{store_path} to look the run id up in")
    try:
        store = HistoryStore(store_path, create=False)
        if given == "latest":
            latest = store.latest()
            if latest is None:
                raise BaselineError(f"baseline latest: the history {store_path} has no run yet")
            return latest
        return store.get(given)
    except (HistoryError, LookupError, ValueError) as exc:
        raise BaselineError(f"baseline {given}: {exc}") from None


def make_judge(profile: str | Profile, baseline: RunResult | None = None
               ) -> Callable[[list[TestResult]], list[Gate]]:
    loaded = profile if isinstance(profile, Profile) else load_profile(profile)
    return lambda tests: judge_tests(loaded, tests, baseline)
