"""hfc-detect: decompose images, score detections per image, evaluate detectors on LFC/HFC."""

from hfc_detect.utils.cli import make_app

app = make_app(__doc__, "hfc_detect")

# Each command module registers itself on ``app`` when imported; heavy imports stay inside the
# command functions so that ``hfc-detect --help`` never loads torch.
import hfc_detect.cli.eval  # noqa: E402, F401  (by module path: the name would shadow eval)
from hfc_detect.cli import compare, curve, decompose, errors, export, heatmap, wins  # noqa: E402, F401


def main() -> None:
    app()
