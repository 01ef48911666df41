"""hfc-classify: train and evaluate classifiers on LFC/HFC data, attack them, smooth kernels."""

from hfc_detect.utils.cli import make_app

app = make_app(__doc__, "hfc_classify", shares_work={"heatmap", "cue-conflict", "robustness"})

# Each command module registers itself on ``app`` when imported; heavy imports stay inside the
# command functions so that ``hfc-classify --help`` stays fast.
from hfc_classify.cli import (  # noqa: E402, F401
    cue_conflict,
    evaluate,
    examples,
    heatmap,
    kernels,
    plot,
    robustness,
    sweep,
    train,
)


def main() -> None:
    app()
