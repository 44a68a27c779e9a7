"""Driving a launch: the engine, the journal, the report, the terminal, and the CLI."""

__version__ = "0.1.0"
