"""The journal: the event catalogue every writer and reader goes by, the recorder that masks and
writes each event before launchctl goes on, the one-driver lock, the reader, and the fold that
rebuilds where a launch stands (docs/journal.md)."""
