"""Frequency-response analyses of detectors beyond one radius: AP-versus-radius curves
(:mod:`~hfc_detect.analysis.curve`), radius sweeps (:mod:`~hfc_detect.analysis.radii`) and
Fourier heat maps (:mod:`~hfc_detect.analysis.heatmap`). Figures: :mod:`~.figures`."""
