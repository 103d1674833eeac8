"""The experiment store: every trial and checkpoint of a study, in an embedded database."""
