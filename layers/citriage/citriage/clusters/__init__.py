"""Failures understood across runs: normalised exception lines, clusters, proposed signatures."""
