"""Controllers: learnable policies that emit architectures token by token."""
