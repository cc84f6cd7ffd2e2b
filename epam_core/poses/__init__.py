"""Offline 2D pose extraction with MediaPipe Pose, in its own environment (``make poses``).

``extract_poses(videos, out)`` writes a pyskl annotation file; see ``extract.py`` for how the MediaPipe
environment is found and ``landmarks.py`` for the BlazePose-33 -> COCO-17 mapping.
"""

from epam_core.poses.extract import extract_poses, extract_video_poses, pose_python, to_annotation

__all__ = ["extract_poses", "extract_video_poses", "pose_python", "to_annotation"]
