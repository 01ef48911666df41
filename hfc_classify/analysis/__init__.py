"""Frequency-response analyses of classifiers: Fourier heat maps
(:mod:`~hfc_classify.analysis.heatmap`), low/high cue conflict
(:mod:`~hfc_classify.analysis.cue_conflict`) and perturbation spectra
(:mod:`~hfc_classify.analysis.spectrum`)."""
