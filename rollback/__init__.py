"""Undoing and watching: the rollback sequence and which hosts it undoes, the policy that starts
it, and guards (their pure decisions, the live watch, replay against history)."""
