"""Answering the CI: what citriage asks of a run's CI (rechecks of held runs)."""
