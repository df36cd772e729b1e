"""Where metrics aggregate: one protocol, several stores (memory, file, host, Redis)."""
