"""Object-detection side of the HFC toolkit: frequency split, per-image COCO AP, evaluation.

Importing the package is cheap: torch, pycocotools and detectron2 load only where used.
"""

__version__ = "0.1.0"
