"""Data sets: images for CNN children (data/images.py), text corpora for language-model children (data/text.py)."""
