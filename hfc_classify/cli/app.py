"""hfc-classify: train and evaluate classifiers on LFC/HFC data, attack them, smooth kernels."""

from hfc_classify.cli import (
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
from hfc_detect.utils.cli import Command, make_app

# The command modules hold plain functions; this table alone registers them, in this order
# (the order of --help). Heavy imports stay inside the functions: --help never loads torch.
COMMANDS = (
    Command("train", train.train_command,
            "Train a classifier; log accuracy on LFC/HFC at radii 4-16 every epoch."),
    Command("sweep", sweep.sweep_command,
            "Run a YAML grid of training runs (the paper's grids: configs/classify/)."),
    Command("plot", plot.plot_command,
            "Fig. 3-6 style accuracy curves and a Table 1 style table of training runs."),
    Command("evaluate", evaluate.evaluate_command,
            "Accuracy of a classifier on images and their LFC/HFC at given radii."),
    Command("examples", examples.examples_command,
            "Fig. 2: images right on original and HFC but wrong on LFC, with confidences."),
    Command("robustness", robustness.robustness_command,
            "Table 2: accuracy under FGSM/PGD vs first-layer kernel smoothing."),
    Command("kernels", kernels.kernels_command,
            "Fig. 7: first-layer kernels of trained models as images (and smoothed)."),
    Command("heatmap", heatmap.heatmap_command,
            "Fourier heat map: error rate under each Fourier basis perturbation."),
    Command("cue-conflict", cue_conflict.cue_conflict_command,
            "Hybrids LFC(k) + HFC(B): does the model follow the low or the high frequencies?"),
)  # fmt: skip

app = make_app(
    __doc__, "hfc_classify", COMMANDS, shares_work={"heatmap", "cue-conflict", "robustness"}
)


def main() -> None:
    app()
