"""The SSH transport: ssh_config, host key trust, connections, the pool and the shell."""
