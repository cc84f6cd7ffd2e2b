"""Cached forward passes and attributions of the run's model on one clip (Sample and Robustness pages).

Everything is keyed by ``loaders.live_key`` (the run, its checkpoint and the data its clips come from) and
the sample; the clip, model and config arguments are what that key stands for and are not hashed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import streamlit as st

from dashboard.loaders import LiveKey

if TYPE_CHECKING:
    import torch

    from epam_core.config import EPAMNetConfig
    from epam_core.data.pipeline import Clip
    from epam_core.runs.single_clip import LiveResult


@st.cache_data(max_entries=256, show_spinner=False)
def forward(
    key: LiveKey,
    sample_id: str,
    noise: str | None,
    level: float,
    seed: int,
    _clip: Clip,
    _model: torch.nn.Module,
    _config: EPAMNetConfig,
) -> LiveResult:
    """The model on one clip at one noise level (cached per ``live_key``: moving the slider back is instant)."""
    from epam_core.data.noise import NoiseSpec
    from epam_core.runs import single_clip

    specs = [NoiseSpec(noise, level)] if noise and level > 0 else None
    rgb_feats = _rgb_features(key, sample_id, _clip, _model, _config)  # skeleton noise leaves them alone
    return single_clip.forward_clip(_model, _clip, _config.input, specs, seed, rgb_feats=rgb_feats)


@st.cache_resource(max_entries=32, show_spinner=False)
def _rgb_features(
    key: LiveKey,
    sample_id: str,
    _clip: Clip,
    _model: torch.nn.Module,
    _config: EPAMNetConfig,
) -> torch.Tensor:
    """The RGB backbone's output for one clip (once per clip and model): each noise level then costs the pose
    stream, the attention and the heads only. Read-only: ``forward_with_rgb_features`` does not write it."""
    from epam_core.runs import single_clip

    return single_clip.clip_rgb_features(_model, _clip, _config.input)


@st.cache_data(max_entries=64, show_spinner="Computing attributions with Captum…")
def attributions(
    key: LiveKey,
    sample_id: str,
    stream: str,
    target: int,
    method: str,
    _clip: Clip,
    _model: torch.nn.Module,
    _config: EPAMNetConfig,
) -> tuple[np.ndarray, np.ndarray]:
    """(per-joint importance (V,), RGB map (T, S, S)) for one sample, stream and class (cached per live_key)."""
    from epam_core.analysis import attribution
    from epam_core.runs import single_clip

    rgb, pose = single_clip.clip_tensors(_clip, _config.input)
    joints = attribution.joint_importance(_model, rgb, pose, target, stream)
    return joints, attribution.rgb_attribution(_model, rgb, pose, target, stream, method)
