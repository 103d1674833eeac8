"""Runnable examples of searching your own model on your own data (see README.md in this folder)."""
