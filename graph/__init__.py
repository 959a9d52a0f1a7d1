"""The HTTP + GraphQL edge."""
