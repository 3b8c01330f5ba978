"""The read side: queries over analysed runs, jobs, tests and known issues (docs/api.md)."""
