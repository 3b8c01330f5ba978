"""Infrastructure incidents: one outage of one service, from many runs' findings (docs/incidents.md)."""
