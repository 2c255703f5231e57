"""The network layer: the only code that opens a socket (probes, HTTP/1.1 reading, TLS, relays, routing rules)."""
