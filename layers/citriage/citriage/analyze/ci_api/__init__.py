"""Runs whose results live behind a CI's API rather than in a plain log tree: GitHub Actions
and GitLab pipelines read as log trees over their APIs, and the credentials the CI API tokens
secret binds to each host (credentials.py). `citriage.analyze.locate` chooses among them."""
