"""octoprobe's conformance suite (a package, so its modules import each other relatively)."""
