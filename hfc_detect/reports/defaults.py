"""Report defaults that the command lines show in their help.

Kept free of imports so that ``--help`` loads neither the AP engine nor scipy.
"""

DEFAULT_RESAMPLES = 10_000  # bootstrap resamples
DEFAULT_CONFIDENCE = 0.95  # bootstrap interval
DEFAULT_SEED = 0  # bootstrap generator
DEFAULT_SCORE_THRESHOLD = 0.5  # detections drawn and matched to objects in reports
