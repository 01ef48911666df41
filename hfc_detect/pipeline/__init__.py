"""The evaluation pipeline behind ``hfc-detect eval``: images -> variants -> detector -> scores.

Not to be confused with the COCO AP engine (:mod:`hfc_detect.evaluation`), which it calls to
score: ``run`` runs an eval, ``inputs`` reads and decodes its images, ``variants`` makes
their LFC/HFC, ``predictions`` keeps what finished, ``config`` holds its settings.

Import :class:`~hfc_detect.pipeline.config.EvalConfig` and
:func:`hfc_detect.pipeline.run.run_eval` for the Python API (this package imports
torch, so the CLI loads it only inside the command).
"""
