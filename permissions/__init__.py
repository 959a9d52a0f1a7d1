"""Who the viewer is (tokens) and what they may see (scope)."""
