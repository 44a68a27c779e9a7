"""The runbook model: what a launch is, loaded from YAML, with no side effects beyond reading files."""
