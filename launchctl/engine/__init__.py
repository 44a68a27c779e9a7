"""Driving a launch: the one loop every wait goes through, the walk over the timeline, the
questions put to people, drills, the second terminal, the launch's baselines and settings, and
the assembly that sets a launch up and tears it down (docs/architecture.md)."""
