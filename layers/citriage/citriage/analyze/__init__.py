"""Analysis of one run: locate its logs, read results, scan, classify, report."""
