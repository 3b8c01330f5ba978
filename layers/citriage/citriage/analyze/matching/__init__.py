"""Matching log text: the RE2 signature engine and the infrastructure rules."""
