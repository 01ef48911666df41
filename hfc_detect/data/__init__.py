"""Reading inputs: images from disk (and, in other modules, datasets)."""
