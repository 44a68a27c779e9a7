"""The runbook format, version 1 (docs/runbook-format.md), declared with ``runbook.schema``.

YAML file in, ``runbook.model.Runbook`` out: ``loader.load_runbook`` is the
entry point; ``document`` declares the whole file (steps, guards, rollback),
the other modules its sections and value types. Nothing outside the loader
and the reference needs to know the format: every other package reads the model.
"""
