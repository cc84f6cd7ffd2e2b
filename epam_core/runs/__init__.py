"""Evaluation runs: the stage between the model and the analysis.

``format.py`` is the run directory (what the dashboard reads); every other module here writes or re-runs
one: ``evaluate.py`` (`epam evaluate`), ``robustness.py`` (`epam robustness`), ``import_scores.py``
(`epam import-scores`), ``own_video.py`` (`epam analyze`), ``measure_attention.py`` (`epam attention`),
``demo.py`` (`epam demo`) and ``single_clip.py`` (one clip of a run through the model again, for the
dashboard). Import the submodules directly; this package imports nothing at import time.
"""
