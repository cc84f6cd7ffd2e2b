import json

import pytest

from epam_core.config import EPAMNetConfig, StreamConfig, build_config, demo_config, paper_config


def test_paper_preset_matches_the_spec():
    cfg = paper_config(60)
    assert cfg.rgb.stage_blocks == (3, 5, 11, 7)
    assert cfg.pose.stage_blocks == (5, 11, 7)
    assert (cfg.rgb.shift_div, cfg.pose.shift_div) == (8, 4)
    assert (cfg.input.rgb_frames, cfg.input.pose_frames, cfg.input.frame_stride) == (16, 48, 3)
    # Both streams end on the same 7x7 grid: 224 / 32 == 56 / 8.
    assert cfg.input.rgb_size // cfg.rgb.total_stride == 7
    assert cfg.input.heatmap_size // cfg.pose.total_stride == 7
    assert cfg.fusion_weights == (1.0, 1.0)


def test_config_round_trips_through_json():
    for cfg in (paper_config(120), demo_config(10)):
        again = EPAMNetConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
        assert again == cfg


def test_build_config_by_name_and_errors():
    assert build_config("demo", 7).num_classes == 7
    assert build_config("paper").num_classes == 60
    with pytest.raises(ValueError, match="unknown preset 'nope'"):
        build_config("nope")
    with pytest.raises(ValueError, match="multiple of rgb_frames"):
        demo_config().input.__class__(pose_frames=20, rgb_frames=8)
    with pytest.raises(ValueError, match="same size"):
        EPAMNetConfig(num_classes=3, rgb=StreamConfig(in_channels=3), pose=StreamConfig(in_channels=17))
