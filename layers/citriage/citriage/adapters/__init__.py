"""Adapters from the ports to the outside world."""
