"""Known-issue signatures: YAML files, replay over stored runs, bug lookup."""
