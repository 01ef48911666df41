"""Classification side of the HFC toolkit: CIFAR experiments, attacks, kernel smoothing."""

__version__ = "0.1.0"
