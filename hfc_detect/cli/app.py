"""hfc-detect: decompose images, score detections per image, evaluate detectors on LFC/HFC."""

from hfc_detect.cli import compare, curve, decompose, errors, export, heatmap, spectrum, wins
from hfc_detect.cli import eval as eval_cli
from hfc_detect.utils.cli import Command, make_app

# The command modules hold plain functions; this table alone registers them, in this order
# (the order of --help). Heavy imports stay inside the functions: --help never loads torch.
COMMANDS = (
    Command("eval", eval_cli.eval_command,
            "Run a detector on original, LFC and HFC images and score every image."),
    Command("compare", compare.compare_command,
            "Per-image and whole-set COCO AP of predictions files, exactly as pycocotools."),
    Command("wins", wins.wins_command,
            "Images where a variant (LFC) beats the baseline, with objects gained/lost."),
    Command("export", export.export_command,
            "Export a comparison as csv, json, parquet or an offline HTML report."),
    Command("curve", curve.curve_command,
            "AP against radius (LFC/HFC, by object size) from an eval run with several radii."),
    Command("errors", errors.errors_command,
            "TIDE's error breakdown per variant: where the AP goes (errors.csv, errors.png)."),
    Command("spectrum", spectrum.spectrum_command,
            "Each variant's share of the original's spectral energy per radius (a figure)."),
    Command("heatmap", heatmap.heatmap_command,
            "Fourier heat map of a detector: AP when one Fourier basis image is added."),
    Command("decompose", decompose.decompose_command,
            "Write the LFC and HFC of images as PNG (and .npy, a figure)."),
)  # fmt: skip

app = make_app(__doc__, "hfc_detect", COMMANDS, shares_work={"eval", "heatmap"})


def main() -> None:
    app()
