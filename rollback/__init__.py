"""Undoing: the rollback sequence, the policy that starts it, and (later) guards."""
