"""Load and fault scripts against real servers: Redis faults, connection bursts, revocation propagation."""
