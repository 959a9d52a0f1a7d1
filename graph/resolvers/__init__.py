"""Functions the schema calls: parse, call the domain, shape."""
