"""Where commands run: the runner base (deadline, cancel, kill, drain) and its transports."""
