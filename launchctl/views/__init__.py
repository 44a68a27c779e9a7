"""Everything people and programs are shown, rendered from events alone: plain lines, the live
view, plan/status/gate/drill text, the launch record (Markdown, JSON, HTML) and replay pages."""
