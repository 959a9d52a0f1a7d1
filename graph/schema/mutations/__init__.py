"""One module per mutation (or pair of twins), named <noun>_<verb>."""
