"""A space of a user's, in one folder with all its hooks: nothing outside this folder names it."""

from spaces.hooked_space.space import HookedSpace

__all__ = ["HookedSpace"]
