"""Peer applications measured beside ours in the same benchmark run (bench-only dependencies)."""
