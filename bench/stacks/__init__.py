"""What gets measured: baselines, peers, and asgi_guard (each layer alone and the full stacks)."""
