"""Turning a run report into mails for the people subscribed to it."""
