"""Everything that touches the world: shells, fan-out, criteria, notifications, clocks."""
