"""Local mode: the embedded AWS endpoint, the handler chain, demo and serve."""
