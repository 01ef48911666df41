"""Frequency-response analyses of detectors beyond one radius: AP-versus-radius curves
(:mod:`~hfc_detect.analysis.curve`), radius sweeps (:mod:`~hfc_detect.analysis.radii`) and
Fourier heat maps (:mod:`~hfc_detect.analysis.heatmap`), and why the AP changes: TIDE's errors
per variant and image (:mod:`~hfc_detect.analysis.errors`, computed by
:mod:`~hfc_detect.analysis.tide`). Figures: :mod:`~.figures`."""
