"""The suites under suites/ and js/ are what the real runners run, not citriage's tests."""

collect_ignore_glob = ["suites/*", "js/*"]
