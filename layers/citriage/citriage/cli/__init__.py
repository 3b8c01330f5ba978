"""The `citriage` command line: one module per command group."""
