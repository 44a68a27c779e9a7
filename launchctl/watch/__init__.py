"""The watch after the launch: ``launchctl watch`` and ``launchctl checkpoint`` run the runbook's
``checkpoints:`` against the launch's own journal, from its recorded go-live to "declared stable"."""
