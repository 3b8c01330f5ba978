"""citriage: CI-failure triage and notification.

Domain code shared by every Lambda function and the `citriage` CLI.
"""

__version__ = "0.1.0"
