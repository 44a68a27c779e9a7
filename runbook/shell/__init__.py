"""Shell commands read with a real parser, so that a filled value can never become shell code.

``syntax`` reads a command with tree-sitter-bash and says where each
placeholder sits; ``reparse`` knows which arguments a shell parses a second
time (``sh -c``, ``ssh``, ``eval``, ...); ``template`` fills placeholders quoted
for their place and proves the rest harmless. ``runbook.resolve`` fills every
command through it before anything runs.
"""
