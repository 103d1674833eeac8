"""Data sets for child networks and tasks: images (digits, MNIST, Fashion-MNIST, CIFAR-10)."""
