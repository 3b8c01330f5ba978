"""Runs coming in: webhooks per CI source, and sweeps of periodic jobs."""
