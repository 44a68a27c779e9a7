"""``launchctl replay``: "when would this launch have rolled back?" — the runbook's guards and
Prometheus checks judged against history by the live decision code, touching nothing."""
