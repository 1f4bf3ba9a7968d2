"""The Tempest bridge: run OpenStack's own API tests (the ones an interop
guideline requires) against a cloud and bring their results into ours."""
