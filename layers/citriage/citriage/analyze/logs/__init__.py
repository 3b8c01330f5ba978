"""Reaching a run's files: safe fetching, layouts per CI, result readers."""
