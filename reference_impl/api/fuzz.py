"""Fuzz every route of the API from its own OpenAPI description
(schemathesis generates the requests, hypothesis drives them) and report
every answer that is a 5xx — there must be none.

    python -m octoprobe.reference_impl.api.fuzz http://198.18.0.1 --token TOKEN

The tests run it against the ASGI app (unit) and the live service
(integration), with a member's token and without one.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from typing import Any, Callable

from hypothesis import HealthCheck, given, settings

DEFAULT_EXAMPLES = 10


@dataclass
class FuzzReport:
    calls: int = 0
    by_status: dict[int, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)  # "METHOD path [token?] -> status: body"
    operations: int = 0


def fuzz_schema(schema: Any, *, header_sets: list[dict[str, str]], max_examples: int = DEFAULT_EXAMPLES,
                call: Callable[[Any, dict[str, str]], Any] | None = None,
                skip: Callable[[Any], bool] = lambda op: False) -> FuzzReport:
    """Call every operation of a schemathesis schema with generated cases,
    once per header set; collect the 5xx answers."""
    report = FuzzReport()
    call = call or (lambda case, headers: case.call(timeout=60))
    for result in schema.get_all_operations():
        operation = result.ok()
        if skip(operation):
            continue
        report.operations += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=max_examples, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        def run(case: Any) -> None:
            generated = {k: v for k, v in (case.headers or {}).items() if k.lower() != "x-auth-token"}
            for headers in header_sets:
                case.headers = {**generated, **headers}  # our token, or none, not a generated one
                response = call(case, headers)
                report.calls += 1
                report.by_status[response.status_code] = report.by_status.get(response.status_code, 0) + 1
                if response.status_code >= 500:
                    auth = "with a token" if headers else "without a token"
                    report.failures.append(f"{case.method} {case.formatted_path} ({auth}) -> "
                                           f"{response.status_code}: {response.text[:300]}")

        run()
    return report


def main(argv: list[str] | None = None) -> int:
    import schemathesis

    parser = argparse.ArgumentParser(prog="octoprobe-api-fuzz", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("base_url")
    parser.add_argument("--token", help="an X-Auth-Token to fuzz with (besides no token)")
    parser.add_argument("--examples", type=int, default=DEFAULT_EXAMPLES)
    args = parser.parse_args(argv)
    schema = schemathesis.openapi.from_url(args.base_url.rstrip("/") + "/openapi.json")
    header_sets = [{}] + ([{"X-Auth-Token": args.token}] if args.token else [])
    report = fuzz_schema(schema, header_sets=header_sets, max_examples=args.examples)
    print(f"{report.operations} operations, {report.calls} calls, statuses {dict(sorted(report.by_status.items()))}")
    for failure in report.failures:
        print("5xx:", failure)
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
