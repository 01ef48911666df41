"""``eval --transform`` / ``--corruption``: image transforms as variants, at the image's own
resolution, checked against the functions applied by hand with numpy."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from hfc_detect.data.images import read_image
from hfc_detect.frequency.variant import CORRUPTION, CORRUPTIONS, Variant
from hfc_detect.pipeline import run as run_module
from hfc_detect.pipeline.transforms import image_seed, load_transform
from hfc_detect.utils.errors import InputError
from tests.detect.test_eval_pipeline import BACKEND, TinyDetector, _cli, _eval, _files, make_coco

HERE = "tests.detect.test_eval_transforms"
RECEIVED: list[np.ndarray] = []


def mix(image: np.ndarray) -> np.ndarray:
    """Depends on position and channel, so a flip or a channel swap on the way shows."""
    RECEIVED.append(image.copy())
    h, w, _ = image.shape
    ramp = np.arange(h * w, dtype=np.float32).reshape(h, w, 1)
    return image[..., [2, 0, 1]] * np.float32(0.5) + ramp + np.float32([0, 10, 20])


def zero_in_place(image: np.ndarray) -> np.ndarray:
    image *= 0  # the input is the function's own copy: nothing else may change
    return image


def wrong_shape(image: np.ndarray) -> np.ndarray:
    return image[:, :, 0]


def not_finite(image: np.ndarray) -> np.ndarray:
    return image * np.nan


def beyond_float32(image: np.ndarray) -> np.ndarray:
    """Finite as float64, infinite once the detector's float32."""
    return image.astype(np.float64) * 1e300 + 1e300


def a_list(image: np.ndarray) -> list:
    return image.tolist()


def raises(image: np.ndarray) -> np.ndarray:
    raise ValueError("no\ngood")


@pytest.fixture
def coco(tmp_path):
    return make_coco(tmp_path / "data")


def _paths(coco):
    ann = json.loads(coco[0].read_text())
    return [coco[1] / im["file_name"] for im in sorted(ann["images"], key=lambda d: d["id"])]


@pytest.mark.parametrize("order", ["RGB", "BGR"])
def test_a_transform_reaches_the_detector_exactly(coco, tmp_path, order):
    """The detector sees function(RGB float32 image) exactly, in its channel order, and the
    function gets (H, W, 3) float32 RGB on 0..255 of its own; recorded as a transform."""
    RECEIVED.clear()
    det = TinyDetector(channel_order=order)
    transforms = [f"zero={HERE}:zero_in_place", f"mix={HERE}:mix"]
    result = _eval(coco, tmp_path / "out", det, radii=[8], transforms=transforms, batch_size=2)
    received = list(RECEIVED)
    plan = ["original", "lfc", "hfc", "zero", "mix"]
    assert [v["name"] for v in result.summary["variants"]] == plan
    assert result.summary["variants"][4]["spec"] == {
        "kind": "transform", "label": "mix", "function": f"{HERE}:mix",
    }  # fmt: skip
    per_batch = iter([2, 2, 1])
    seen = iter(det.seen)
    paths = iter(_paths(coco))
    for n in per_batch:
        rgbs = [read_image(next(paths)).astype(np.float32) for _ in range(n)]
        for name in plan:
            for rgb in rgbs:
                got = next(seen)
                if name == "original":
                    want = rgb
                elif name == "mix":
                    want = mix(rgb)
                elif name == "zero":
                    want = np.zeros_like(rgb)
                else:
                    continue
                want = want[..., ::-1] if order == "BGR" else want
                assert got.dtype == torch.float32
                np.testing.assert_array_equal(got.numpy(), want.transpose(2, 0, 1), err_msg=name)
    # once per image for detection, then once per image of the variant spectrum's sample
    # (all 5 here), in the sample's order
    assert len(received) == 2 * len(_paths(coco))
    assert (result.output / "variant_spectrum.csv").is_file()
    assert all(a.dtype == np.float32 and a.ndim == 3 and a.shape[2] == 3 for a in received)
    assert received[0].max() > 200  # 0..255, not 0..1


def _error_line(coco, out: Path, *args: str) -> str:
    """eval on ``coco`` with ``args``: its one ``error:`` line; it exits 2 and writes nothing."""
    base = ["--radius", "8", "--annotations", str(coco[0]), "--images", str(coco[1]),
            "--backend", BACKEND, "--num-workers", "0", "--output", str(out),
            "--no-progress"]  # fmt: skip
    result = _cli([*base, *args])
    assert result.exit_code == 2, result.output
    line = result.output.strip()
    assert "\n" not in line and line.startswith("error: "), line
    assert not out.exists()
    return line


@pytest.mark.parametrize(
    ("function", "message"),
    [
        ("wrong_shape", "returned shape (40, 48) for image 10"),
        ("not_finite", "returned non-finite values"),
        ("beyond_float32", "returned non-finite values (as float32)"),
        ("a_list", "returned list"),
        ("raises", "failed on image 10: ValueError: no good"),
    ],
)
def test_a_transform_breaking_its_contract_is_one_error_line(coco, tmp_path, function, message):
    line = _error_line(coco, tmp_path / "out", "--transform", f"bad={HERE}:{function}")
    assert line.startswith(f"error: --transform bad={HERE}:{function}") and message in line


@pytest.mark.parametrize("body", ["raise RuntimeError('not configured')", "def f(:\n"])
def test_a_transform_module_failing_to_import_is_one_error_line(coco, tmp_path, monkeypatch, body):
    (tmp_path / "broken_transform.py").write_text(body)
    monkeypatch.syspath_prepend(str(tmp_path))
    line = _error_line(coco, tmp_path / "out", "--transform", "t=broken_transform:f")
    assert line.startswith("error: --transform t=broken_transform:f: cannot import 'broken_")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--corruption", "fog"], "NAME:SEVERITY"),
        (["--corruption", "fogg:3"], "unknown corruption 'fogg'; choose from gaussian_noise,"),
        (["--corruption", "fog:6"], "severity is 1-5"),
        (["--corruption", "fog:x"], "severity is 1-5"),
        (["--corruption", "fog:2", "--corruption", "fog:2"], "given twice"),
        (["--transform", "blur"], "NAME=package.module:function"),
        (["--transform", "lfc=a.b:c"], "names a built-in variant"),
        (["--transform", "LFC=a.b:c"], "names a built-in variant"),
        (["--transform", "Fog_S2=a.b:c"], "names a built-in variant"),
        (["--transform", "b=numpy:abs", "--transform", "B=numpy:abs"], "differ only in case"),
        (["--transform", "fog_s2=a.b:c"], "names a built-in variant"),
        (["--transform", "a b=a.b:c"], "NAME is a letter"),
        (["--transform", "blur=numpy"], "package.module:function"),
        (["--transform", "b=numpy:abs", "--transform", "b=numpy:abs"], "given twice"),
        (["--transform", "blur=no_such_pkg.mod:fn"], "cannot import 'no_such_pkg.mod'"),
        (["--transform", "blur=numpy:no_such_function"], "has no attribute"),
        (["--transform", "blur=numpy:pi"], "is not a function"),
    ],
)
def test_bad_transform_specs_exit_2_with_one_line(coco, tmp_path, monkeypatch, args, message):
    """Refused before the detector is built (a real model can take minutes to load)."""
    built = []
    monkeypatch.setattr(run_module, "_build_detector", lambda run: built.append(run))
    assert message in _error_line(coco, tmp_path / "out", *args)
    assert not built


def test_a_run_without_lfc_and_hfc_needs_no_radius(coco, tmp_path):
    """``--variants original`` with transforms alone: no radius to give, none in the default
    folder's name; with LFC/HFC a radius is still required."""
    from hfc_detect.pipeline.config import EvalConfig, default_output

    result = _eval(coco, tmp_path / "out", radii=[], variants="original",
                   transforms=[f"t={HERE}:mix"])  # fmt: skip
    assert [v["name"] for v in result.summary["variants"]] == ["original", "t"]
    config = EvalConfig(radii=(), variants="original", transforms=[f"t={HERE}:mix"])
    assert default_output(config, "0" * 64).name.startswith("eval-data-detector-")
    assert "-r" not in default_output(config, "0" * 64).name
    with pytest.raises(InputError, match="give at least one --radius"):
        EvalConfig(radii=(), variants="original,lfc", transforms=[f"t={HERE}:mix"])


def test_changing_a_transforms_identity_is_refused_on_resume(coco, tmp_path):
    out = tmp_path / "out"
    _eval(coco, out, transforms=[f"t={HERE}:mix"])
    assert _eval(coco, out, transforms=[f"t={HERE}:mix"]).reused
    for other in ([f"t={HERE}:zero_in_place"], [f"u={HERE}:mix"], []):
        with pytest.raises(InputError, match=r"other settings.*transforms"):
            _eval(coco, out, transforms=other)
    with pytest.raises(InputError, match=r"other settings.*corruptions"):
        _eval(coco, out, transforms=[f"t={HERE}:mix"], corruptions=["fog:1"])


def test_without_imagecorruptions_a_corruption_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "imagecorruptions", None)  # import fails
    with pytest.raises(InputError, match=r"pip install 'hfc-toolkit\[corruptions\]'"):
        load_transform(Variant(CORRUPTION, label="fog", severity=2))


# --- corruptions (imagecorruptions installed: the extra [corruptions]) ---------------------------

CORRUPT = ["gaussian_noise:3", "impulse_noise:2", "motion_blur:1"]  # global RNG, seed=, cv2


def test_the_corruptions_are_imagecorruptions_common_fifteen():
    corruptions = pytest.importorskip("imagecorruptions")
    assert tuple(corruptions.get_corruption_names("common")) == CORRUPTIONS


def test_a_corruption_reaches_the_detector_as_imagecorruptions_makes_it(coco, tmp_path):
    """The detector sees imagecorruptions' output for the image (RGB uint8) under the image's
    seed, in its channel order; numpy's global RNG is left as it was."""
    corruptions = pytest.importorskip("imagecorruptions")
    det = TinyDetector(channel_order="BGR")
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    _eval(coco, tmp_path / "out", det, variants="original", corruptions=["impulse_noise:2",
          "gaussian_noise:3"])  # fmt: skip
    assert (np.random.get_state()[1] == before).all()
    ann = json.loads(coco[0].read_text())
    ids = sorted(im["id"] for im in ann["images"])
    seen = iter(det.seen)
    for image_id, path in zip(ids, _paths(coco), strict=True):
        rgb = read_image(path)
        next(seen)  # the original
        for name, severity, kwargs in [("impulse_noise", 2, True), ("gaussian_noise", 3, False)]:
            seed = image_seed(image_id, f"{name}_s{severity}")
            np.random.seed(seed)
            want = corruptions.corrupt(rgb, severity=severity, corruption_name=name,
                                       **({"seed": seed} if kwargs else {}))  # fmt: skip
            got = next(seen).numpy()
            np.testing.assert_array_equal(
                got, want[..., ::-1].transpose(2, 0, 1).astype(np.float32)
            )
            assert not np.array_equal(want, rgb)


def test_corruptions_are_deterministic_across_runs_and_resumes(coco, tmp_path):
    pytest.importorskip("imagecorruptions")
    _eval(coco, tmp_path / "a", corruptions=CORRUPT)
    _eval(coco, tmp_path / "b", corruptions=CORRUPT)
    with pytest.raises(RuntimeError, match="simulated crash"):
        _eval(coco, tmp_path / "c", TinyDetector(fail_after=13), corruptions=CORRUPT, batch_size=2)
    _eval(coco, tmp_path / "c", corruptions=CORRUPT, batch_size=2)
    a = _files(tmp_path / "a")
    assert a == _files(tmp_path / "b") == _files(tmp_path / "c")
    predictions = {n: b for n, b in a.items() if n.endswith(".json")}
    assert len(set(predictions.values())) == len(predictions)  # each variant its own
    from importlib import metadata

    versions = json.loads((tmp_path / "a" / "summary.json").read_text())["versions"]
    assert versions["imagecorruptions-imaug"] == metadata.version("imagecorruptions-imaug")
    assert versions["scikit-image"] == metadata.version("scikit-image")
