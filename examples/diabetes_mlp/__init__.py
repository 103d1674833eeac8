"""An MLP space on scikit-learn's diabetes data, searched from YAML with dotted paths (see search.yaml)."""
