"""The variant spec: one writer and one reader of variant names, in both packages.

Every name the toolkit writes (``eval``'s and Detectron2's variant names, ``decompose``'s
output files, the classifier tracker's metric columns, the frequency-set cache) is produced
through :class:`~hfc_detect.frequency.variant.Variant` and parses back to the same spec; and
no other module builds or parses such a name itself.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import numpy as np
import pytest

from hfc_classify.data.frequency_sets import cache_name
from hfc_classify.engine.tracking import column
from hfc_classify.plots import RunResult
from hfc_detect.decompose import decompose_image
from hfc_detect.frequency.variant import (
    CORRUPTIONS,
    KINDS,
    SEVERITIES,
    Variant,
    name_variants,
    parse_band,
    parse_corruption,
    parse_kinds,
    parse_transform,
    plan_variants,
    radius_tag,
)
from hfc_detect.utils.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
RADII = [4, 8.5, 16, 128, 0.25, 1e-3, 1e21, 0.1 + 0.2]
# "{}_r{}" (an f-string gluing a radius), "_r(\d" / "_r\d" (a regex reading one), "(lfc|hfc)",
# and "lfc_r" / "{}_r" prefixes for startswith; "{}_s{}" / "_s(\d" the same for a severity
NAME_MAKING = re.compile(r"\{\}_r(\{\}|$)|_r\(?\\d|\(lfc\|hfc\)|^(lfc|hfc)_r?$|\{\}_s\{\}|_s\(?\\d")


@pytest.mark.parametrize("radii", [[128], [4, 8.5], RADII])
def test_eval_names_parse_back_to_their_spec(radii):
    named = name_variants(plan_variants(radii))
    one = len(radii) == 1
    assert list(named)[:3] == (
        ["original", "lfc", "hfc"] if one else ["original", f"lfc_r{radius_tag(radii[0])}",
                                                f"hfc_r{radius_tag(radii[0])}"]
    )  # fmt: skip
    for name, spec in named.items():
        assert Variant.parse(name, radius=radii[0] if one else None) == spec
        assert Variant.from_json(spec.to_json()) == spec


def test_transform_and_corruption_names_parse_back_to_their_spec():
    corruptions = [(name, level) for name in CORRUPTIONS for level in SEVERITIES]
    transforms = [("blur", "my_pkg.ops:blur"), ("JPEG-q10", "a:b")]
    named = name_variants(plan_variants([128], ["lfc"], [(16, 64)], corruptions, transforms))
    assert list(named)[:4] == ["lfc", "band_r16-64", "gaussian_noise_s1", "gaussian_noise_s2"]
    assert list(named)[-2:] == ["blur", "JPEG-q10"]
    assert len(named) == 2 + 15 * 5 + 2
    functions = dict(transforms)
    for name, spec in named.items():
        assert Variant.parse(name, radius=128, transforms=functions) == spec
        assert Variant.from_json(spec.to_json()) == spec
    assert Variant.parse("jpeg_compression_s3") == Variant(
        "corruption", label="jpeg_compression", severity=3
    )
    assert Variant.parse_or_none("blur") is None  # a transform's name needs the run's functions
    assert parse_corruption("motion_blur:5") == ("motion_blur", 5)
    assert parse_transform("blur=my_pkg.ops:blur") == ("blur", "my_pkg.ops:blur")
    spec = named["gaussian_noise_s3"]
    assert not spec.is_component and spec.is_transform and spec.tag == "" and spec.radii == ()
    assert named["blur"].to_json() == {"kind": "transform", "label": "blur",
                                       "function": "my_pkg.ops:blur"}  # fmt: skip


def test_names_users_see_are_unchanged():
    assert Variant("lfc", 64).name() == "lfc_r64"
    assert Variant("hfc", 8.5).name() == "hfc_r8.5"
    assert Variant("lfc", 16, inclusive=True).name() == "lfc_r16i"
    assert Variant("original").name() == "original"
    assert Variant("hfc", 128).name(short=True) == "hfc"
    assert Variant("band", 64, inner=16).name(short=True) == "band_r16-64"
    assert Variant.parse("band_r16-64i") == Variant("band", 64, inclusive=True, inner=16)
    assert parse_band("16:64") == (16.0, 64.0)
    named = name_variants(plan_variants([128], bands=[parse_band("16:64")]))
    assert list(named) == ["original", "lfc", "hfc", "band_r16-64"]  # bands keep lfc/hfc short
    assert list(name_variants(plan_variants([4, 8], ["lfc", "original"]))) == [
        "original", "lfc_r4", "lfc_r8",
    ]  # fmt: skip


def test_decompose_file_names_parse_back(tmp_path):
    image = tmp_path / "photo.png"
    import cv2

    cv2.imwrite(str(image), np.random.default_rng(0).integers(0, 255, (12, 10, 3), np.uint8))
    for radius, inclusive in [(16, False), (2.5, True)]:
        files = decompose_image(image, radius, inclusive=inclusive, npy=True)
        for file_name in files:
            stem, tag, kind = Path(file_name).stem.rsplit("_", 2)
            assert stem == "photo"
            assert Variant.parse(f"{kind}_{tag}") == Variant(kind, radius, inclusive)


def test_classifier_columns_and_cache_names_parse_back():
    for radius in RADII:
        for kind in ("lfc", "hfc"):
            split, _, name = column("train", kind, radius).partition("_")
            assert split == "train" and Variant.parse(name) == Variant(kind, radius)
            parts = cache_name("abc", radius, kind, "max", False).split("_")
            assert Variant.parse(f"{parts[2]}_{parts[1]}") == Variant(kind, radius)
    metrics = [{"epoch": 1.0, column("test", "lfc", 8.5): 0.5, column("test", "hfc", 4): 0.1,
                column("train", "lfc", 4): 0.7}]  # fmt: skip
    run = RunResult("r", Path("r"), {}, metrics)
    assert run.tracked("test", "lfc") == {8.5: [0.5]}
    assert run.tracked("train", "lfc") == {4.0: [0.7]}


def test_sort_key_orders_as_eval_plans():
    specs = plan_variants([16, 4])
    shuffled = [specs[i] for i in (4, 0, 2, 1, 3)]
    assert sorted(shuffled, key=Variant.sort_key) == [
        Variant("original"), Variant("lfc", 4), Variant("hfc", 4), Variant("lfc", 16),
        Variant("hfc", 16),
    ]  # fmt: skip
    others = plan_variants([4], ["original"], [(2, 4)], [("fog", 2), ("gaussian_noise", 3),
                           ("fog", 1)], [("b", "m:f"), ("a", "m:f")])  # fmt: skip
    assert [v.name() for v in sorted(reversed(others), key=Variant.sort_key)] == [
        "original", "band_r2-4", "gaussian_noise_s3", "fog_s1", "fog_s2", "a", "b",
    ]  # fmt: skip


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: Variant("mfc", 4), "unknown variant kind"),
        (lambda: Variant("lfc"), "radius"),
        (lambda: Variant("lfc", -1), "radius"),
        (lambda: Variant("original", 4), "no radius"),
        (lambda: Variant.parse("lfc"), "names no radius"),
        (lambda: Variant.parse("lfc_r"), "not a variant name"),
        (lambda: Variant.parse("model_b"), "not a variant name"),
        (lambda: Variant.parse("band_r64"), "not a variant name"),
        (lambda: Variant.parse("lfc_r16-64"), "not a variant name"),
        (lambda: Variant("band", 16, inner=64), "0 < R1 < R2"),
        (lambda: Variant("band", 16), "0 < R1 < R2"),
        (lambda: Variant("lfc", 16, inner=4), "one radius"),
        (lambda: parse_band("64:16"), "0 < R1 < R2"),
        (lambda: parse_band("16"), "R1:R2"),
        (lambda: parse_band("a:16"), "radius must be a number"),
        (lambda: Variant.from_json({"kind": "lfc", "radius": 4, "band": 1}), "not a variant"),
        (lambda: parse_kinds("lfc,mfc"), "mfc"),
        (lambda: parse_corruption("fogg:3"), "unknown corruption 'fogg'; choose from gaussian"),
        (lambda: parse_corruption("fog:0"), "severity is 1-5"),
        (lambda: parse_corruption("fog"), "NAME:SEVERITY"),
        (lambda: Variant("corruption", 4, label="fog", severity=1), "takes no radius"),
        (lambda: Variant("corruption", label="fog", severity=True), "severity is 1-5"),
        (lambda: Variant("lfc", 4, label="fog"), "takes no label"),
        (lambda: parse_transform("blur"), "NAME=package.module:function"),
        (lambda: parse_transform("hfc=a:b"), "built-in"),
        (lambda: parse_transform("band_r1-2=a:b"), "built-in"),
        (lambda: parse_transform("snow_s5=a:b"), "built-in"),
        (lambda: parse_transform("9x=a:b"), "a letter"),
        (lambda: parse_transform("x=a.b"), "package.module:function"),
        (lambda: Variant("transform", label="x", function="a:b", severity=2), "no severity"),
        (lambda: Variant.parse("fog_s9"), "severity is 1-5"),
        (lambda: Variant.from_json({"kind": "corruption", "label": "fog"}), "severity"),
        (lambda: name_variants([Variant("lfc", 4), Variant("lfc", 4)]), "twice"),
    ],
)
def test_bad_specs_are_one_line_errors(make, message):
    with pytest.raises(InputError, match=message):
        make()


def test_no_other_module_builds_or_parses_variant_names():
    """Outside the spec module, no f-string glues ``_r`` to a radius, and no regex or prefix
    test reads ``lfc``/``hfc`` names: they go through :class:`Variant`."""
    spec_module = ROOT / "hfc_detect" / "frequency" / "variant.py"
    offenders = []
    for package in ("hfc_detect", "hfc_classify"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if path == spec_module:
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                text = _literal_text(node)
                if text is None:
                    continue
                if NAME_MAKING.search(text):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}: {text!r}")
    assert offenders == []


def _literal_text(node: ast.AST) -> str | None:
    """The constant text of a string literal or an f-string's literal parts."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
    return None


def test_kinds_are_defined_once():
    assert KINDS == ("original", "lfc", "hfc")
    pattern = re.compile(r"""\(\s*["']original["'],\s*["']lfc["'],\s*["']hfc["']\s*\)""")
    found = [
        str(p.relative_to(ROOT))
        for package in ("hfc_detect", "hfc_classify")
        for p in (ROOT / package).rglob("*.py")
        if pattern.search(p.read_text(encoding="utf-8"))
    ]
    assert found == []  # the spec module composes it from ORIGINAL and COMPONENTS
