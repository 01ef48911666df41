"""Report defaults that the command lines show in their help.

Kept free of imports so that ``--help`` loads neither the AP engine nor scipy.
"""

PAPER_RADIUS = 128  # Sec. 7's radius: the default view of a run with several radii
DEFAULT_RESAMPLES = 10_000  # bootstrap resamples
DEFAULT_CONFIDENCE = 0.95  # bootstrap interval
DEFAULT_SEED = 0  # bootstrap generator
DEFAULT_SCORE_THRESHOLD = 0.5  # detections drawn and matched to objects in reports
#: What ComparisonFolder.resolve_variant picks when no variant is named, in words for --help.
DEFAULT_VARIANT = (
    f"lfc, else the lfc variant whose radius is nearest {PAPER_RADIUS} (the paper's), else the "
    "first variant after the baseline"
)
