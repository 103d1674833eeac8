"""Search strategies: what to try next, through ask() and tell()."""
