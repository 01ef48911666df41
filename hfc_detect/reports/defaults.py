"""Defaults of the reports that the command line also shows in its help (no heavy imports)."""

PAPER_RADIUS = 128  # Sec. 7's radius: the default view of a run with several radii
#: What ComparisonFolder.resolve_variant picks when no variant is named, in words for --help.
DEFAULT_VARIANT = (
    f"lfc, else the lfc variant whose radius is nearest {PAPER_RADIUS} (the paper's), else the "
    "first variant after the baseline"
)
