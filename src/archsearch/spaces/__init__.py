"""Search spaces: what can be built, as a sequence of decisions."""
