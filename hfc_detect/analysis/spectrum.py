"""Where each variant sits in the spectrum: its share of the original's energy per radius.

For an image x and a variant v of it (what eval's variant maker fed the detector: the LFC or
HFC in the run's pixel mode, a band, or any other kind the maker makes), both (C, H, W) at the
image's original resolution, the energy of radial bin k is

    E(k) = sum over the channels and over the DFT bins f with k <= d(f) < k + 1 of |F(f)|^2,

where d(f) is the distance the disk of ``--radius`` measures
(:func:`hfc_detect.frequency.fourier.disk_mask`: Euclidean distance to (H//2, W//2) in the
``fftshift`` layout, in frequency bins). Bin k of a variant holds ``E_v(k) / E_x(k)``, averaged
over the images where ``E_x(k) > 0``. So an LFC at an integer radius r is 1 in the bins below r
and 0 from r on, an HFC the reverse, a band ``band_r<R1>-<R2>`` 1 between its radii (a
non-integer radius, or ``--inclusive``'s d = r, falls inside a bin and leaves it partly kept).

The images: a seeded sample (:data:`DEFAULT_SAMPLE` images, seed :data:`DEFAULT_SEED`; all of
them where the run scored fewer) of the images the run scored, decoded as eval decodes them
(:class:`~hfc_detect.pipeline.inputs.DecodedImages`, the run's channel order) and made into the
run's variants by the run's own :func:`~hfc_detect.pipeline.variants.variant_maker`.

Cost: one real 2-D FFT per channel, image and variant plus the maker's split (about 70 ms of
CPU per 640 x 480 image with original, LFC and HFC on one core: docs/analyses.md). Not in the
paper, which shows LFC/HFC only as images.
"""

from __future__ import annotations

import csv
import itertools
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from hfc_detect.frequency.variant import Variant
from hfc_detect.results import ComparisonFolder, load_comparison, write_table_csv
from hfc_detect.utils.errors import InputError
from hfc_detect.utils.files import write_json_atomic

DEFAULT_SAMPLE = 50
DEFAULT_SEED = 0
SPECTRUM_CSV = "variant_spectrum.csv"
SPECTRUM_JSON = "variant_spectrum.json"
SPECTRUM_PNG = "variant_spectrum.png"
_COLUMNS = ("variant", "r_low", "r_high", "share", "images")


@dataclass(frozen=True)
class VariantSpectrum:
    """The share of the original's energy per unit radial bin ``[k, k + 1)``, per variant (NaN
    where no image has energy in the bin), the number of images averaged in each bin, and the
    sample: its image ids, size asked and seed."""

    shares: dict[str, np.ndarray]
    images: np.ndarray
    image_ids: list[int]
    sample: int
    seed: int

    @property
    def num_bins(self) -> int:
        return len(self.images)


@lru_cache(maxsize=4)  # consecutive images often share a size; a large one's map is large
def _radial_bins(height: int, width: int) -> tuple[np.ndarray, np.ndarray, int]:
    """For the ``rfft2`` layout of an (H, W) image: the unit radial bin of every coefficient,
    the weight of each column (2 where its mirror image ``-f`` is not stored) and the number of
    bins. Distances as :func:`~hfc_detect.frequency.fourier.disk_mask` measures them."""
    rows = np.fft.fftfreq(height, 1 / height)  # signed row frequencies, unshifted
    cols = np.arange(width // 2 + 1)
    dist = np.sqrt(rows[:, None] ** 2 + cols[None, :] ** 2)
    bins = np.floor(dist).astype(np.int64)
    weights = np.full(len(cols), 2.0)
    weights[0] = 1.0
    if width % 2 == 0:
        weights[-1] = 1.0  # the Nyquist column is its own mirror
    for array in (bins, weights):
        array.setflags(write=False)
    return bins, weights, int(bins.max()) + 1


def radial_energy(image: np.ndarray) -> np.ndarray:
    """Energy per unit radial bin of a real (C, H, W) image, summed over its channels: entry k
    is the sum of |FFT|^2 over the bins at distance ``k <= d < k + 1`` of the zero frequency.
    Computed in float64 one channel at a time (a large image holds one half-spectrum)."""
    import scipy.fft

    if np.ndim(image) != 3:
        raise InputError(f"expected a (C, H, W) image, got shape {np.shape(image)}")
    bins, weights, count = _radial_bins(*image.shape[1:])
    power = np.zeros(bins.shape)
    for channel in image:
        spectrum = scipy.fft.rfft2(np.asarray(channel, dtype=np.float64))
        power += spectrum.real**2 + spectrum.imag**2
    power *= weights
    return np.bincount(bins.ravel(), weights=power.ravel(), minlength=count)


def sample_images(image_ids: Sequence[int], sample: int, seed: int) -> list[int]:
    """``sample`` of ``image_ids`` drawn without replacement by ``numpy.random.default_rng
    (seed)``, in id order; all of them where there are no more than ``sample``."""
    if sample < 1:
        raise InputError(f"--sample must be >= 1, got {sample}")
    ids = sorted(int(i) for i in image_ids)
    if len(ids) <= sample:
        return ids
    picked = np.random.default_rng(seed).choice(len(ids), size=sample, replace=False)
    return [ids[i] for i in sorted(picked.tolist())]


def _eval_settings(folder: ComparisonFolder) -> Any:
    """The EvalConfig that ``run.json`` of an eval folder records; InputError otherwise."""
    from hfc_detect.pipeline.config import EvalConfig
    from hfc_detect.pipeline.predictions import RunFolder

    stored = RunFolder(folder.root).read_run()
    if stored is None:
        raise InputError(
            f"{folder.root}: no run.json; spectrum reads a folder written by hfc-detect eval "
            "(it makes the run's variants again from its images)"
        )
    stored.pop("annotations_sha256", None)
    try:
        return EvalConfig.from_json(stored)
    except (TypeError, ValueError) as exc:
        raise InputError(
            f"{folder.root / 'run.json'}: not an eval run's settings ({exc})"
        ) from None


def variant_spectrum(
    directory: str | Path,
    *,
    sample: int = DEFAULT_SAMPLE,
    seed: int = DEFAULT_SEED,
    advance: Callable[[int], None] | None = None,
) -> VariantSpectrum:
    """The spectrum shares of every variant of the eval folder ``directory`` over a seeded
    ``sample`` of its scored images; ``advance(1)`` after each image. InputError on a folder
    that is not a finished eval run, or an image that cannot be read."""
    import torch

    from hfc_detect.pipeline.inputs import DecodedImages, ImageRecord
    from hfc_detect.pipeline.variants import variant_maker

    folder = load_comparison(directory)
    config = _eval_settings(folder)
    channel_order = folder.summary.get("channel_order") or "RGB"
    maker = variant_maker(config, channel_order)
    images_dir = Path(config.images or "")
    if not images_dir.is_dir():
        raise InputError(f"{folder.root}: its images folder {images_dir} is not found")
    by_id = {int(r["image_id"]): r["file_name"] for r in folder.rows}
    ids = sample_images(list(by_id), sample, seed)
    records = [ImageRecord(i, by_id[i], images_dir / by_id[i]) for i in ids]
    decoded = DecodedImages(records, channel_order)
    totals: dict[str, np.ndarray] = {name: np.zeros(0) for name in maker.variants}
    counts = np.zeros(0)
    for index in range(len(records)):
        item = decoded[index]
        if item.pixels is None:
            raise InputError(item.error or f"cannot read image {records[index].path}")
        pixels = item.pixels.to(torch.float32)
        original = radial_energy(pixels.numpy())
        kept = original > 0
        counts = _add(counts, kept.astype(np.float64))
        variants = maker([pixels], [ids[index]])[0]
        for name in maker.variants:
            energy = radial_energy(variants[name].numpy())
            totals[name] = _add(
                totals[name], np.divide(energy, original, where=kept, out=np.zeros_like(energy))
            )
        if advance is not None:
            advance(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = {name: np.where(counts > 0, t / counts, np.nan) for name, t in totals.items()}
    return VariantSpectrum(shares, counts.astype(np.int64), ids, sample, seed)


def _add(total: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``total + values``, the shorter one padded with zeros (images differ in size)."""
    size = max(len(total), len(values))
    return np.pad(total, (0, size - len(total))) + np.pad(values, (0, size - len(values)))


# ------------------------------------------------------------------------------------ files


def write_variant_spectrum(
    directory: str | Path, result: VariantSpectrum, kinds: Mapping[str, Variant | None]
) -> list[Path]:
    """Write ``variant_spectrum.png`` (lines coloured by ``kinds``: variant name -> spec),
    ``variant_spectrum.json`` (the sample) and ``variant_spectrum.csv`` (last) into
    ``directory``, each atomically; return their paths."""
    from hfc_detect.reports.figures import spectrum_png

    directory = Path(directory)
    paths = [directory / SPECTRUM_PNG, directory / SPECTRUM_JSON, directory / SPECTRUM_CSV]
    spectrum_png(result, kinds, paths[0], f"Variant spectra: {directory.resolve().name}")
    write_json_atomic(paths[1], {"sample": result.sample, "seed": result.seed,
                                 "image_ids": result.image_ids})  # fmt: skip
    rows = (
        [name, k, k + 1, "" if np.isnan(share[k]) else float(share[k]), int(result.images[k])]
        for name, share in result.shares.items()
        for k in range(result.num_bins)
    )
    write_table_csv(paths[2], _COLUMNS, rows)
    return paths


def read_variant_spectrum(directory: str | Path) -> VariantSpectrum:
    """The spectrum ``write_variant_spectrum`` wrote into ``directory`` (the sample from its
    JSON where present); ``ValueError`` where the CSV misses a column or a number."""
    directory = Path(directory)
    with (directory / SPECTRUM_CSV).open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows or any(c not in rows[0] for c in _COLUMNS):
        raise ValueError(f"no rows or not the columns {', '.join(_COLUMNS)}")
    num_bins = max(int(r["r_high"]) for r in rows)
    shares: dict[str, np.ndarray] = {}
    images = np.zeros(num_bins, dtype=np.int64)
    for r in rows:
        k = int(r["r_low"])
        share = shares.setdefault(r["variant"], np.full(num_bins, np.nan))
        share[k] = float(r["share"]) if r["share"] else np.nan
        images[k] = int(r["images"])
    info_path = directory / SPECTRUM_JSON
    info = json.loads(info_path.read_text(encoding="utf-8")) if info_path.is_file() else {}
    return VariantSpectrum(shares, images, list(info.get("image_ids", [])),
                           int(info.get("sample", 0)), int(info.get("seed", 0)))  # fmt: skip


def folder_spectrum(
    directory: str | Path,
    *,
    sample: int = DEFAULT_SAMPLE,
    seed: int = DEFAULT_SEED,
    advance: Callable[[int], None] | None = None,
) -> tuple[VariantSpectrum, list[Path]]:
    """:func:`variant_spectrum` of the eval folder ``directory``, written into it
    (:func:`write_variant_spectrum`); the result and the paths written."""
    result = variant_spectrum(directory, sample=sample, seed=seed, advance=advance)
    kinds = spectrum_kinds(load_comparison(directory), result)
    return result, write_variant_spectrum(directory, result, kinds)


def spectrum_kinds(
    folder: ComparisonFolder, spectrum: VariantSpectrum
) -> dict[str, Variant | None]:
    """What each variant of ``spectrum`` is, as ``folder`` records it (None: not recorded, or a
    kind this version does not know; only the figure's colours depend on it)."""
    known = set(folder.variant_names)
    return {name: folder.spec_or_none(name) if name in known else None for name in spectrum.shares}


def octave_shares(spectrum: VariantSpectrum) -> tuple[list[tuple[int, int]], dict[str, list]]:
    """The radii in octaves, ``[0, 1), [1, 2), [2, 4)`` ... up to the last bin, and per variant
    the mean of its bins' shares in each (None where no bin has one)."""
    edges = [0, 1]
    while edges[-1] < spectrum.num_bins:
        edges.append(min(2 * edges[-1], spectrum.num_bins))
    ranges = list(itertools.pairwise(edges))
    means = {}
    for name, share in spectrum.shares.items():
        parts = [share[lo:hi][np.isfinite(share[lo:hi])] for lo, hi in ranges]
        means[name] = [float(p.mean()) if p.size else None for p in parts]
    return ranges, means
