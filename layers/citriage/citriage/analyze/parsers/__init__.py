"""Parsers of test results: each turns one format into a list of `TestResult`."""
