"""Data: pyskl annotation files, NTU skeletons, video I/O, sampling, cropping, heatmaps, datasets.

Import the submodules directly (``from epam_core.data.pyskl import load_annotations``); this package
imports nothing at import time.
"""
