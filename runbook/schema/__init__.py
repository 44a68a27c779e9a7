"""A small engine for declaring a YAML format: located errors, typed values, a JSON Schema and a reference.

Nothing here knows the runbook: ``runbook.v1`` (the runbook format) and
``runbook.checklist`` (the go/no-go checklist) are both declared with it, and a
new YAML input would be too. ``yaml_tree`` reads a file into nodes that keep
their line and column; ``records`` declares the shapes (``Record`` and ``Field``,
``ListOf``, ``MapOf``, ``OneOfKeys``) whose ``convert`` yields values and
``FILE:LINE:COL`` diagnostics and whose ``json_schema`` feeds editors;
``scalars`` holds the plain value types; ``reference`` writes a Markdown
reference from the JSON Schema.
"""
