"""The evaluation pipeline behind ``hfc-detect eval``: images -> variants -> detector -> scores.

Import :class:`~hfc_detect.engine.config.EvalConfig` and
:func:`hfc_detect.engine.evaluate.run_eval` for the Python API (this package imports
torch, so the CLI loads it only inside the command).
"""
