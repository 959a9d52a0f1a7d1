"""Live updates: each worker's hub pushes change-feed rows to its subscribers (hub.py)."""
