"""Drawing SynthActions frames with OpenCV: scenes, moving distractors, a person with body parts of some
width, held props, and camera jitter.

All images are RGB uint8 (H, W, 3). The person is drawn from exactly the joints that become the ground
truth, with sub-pixel precision (``cv2`` ``shift``), so every keypoint lies on the drawn body. Colours of
clothes, scenes and distractors are muted, so that the saturated prop colours stay the cue they should be.
"""

from __future__ import annotations

import cv2
import numpy as np

from epam_core.data.synth import skeleton as sk

SHIFT = 4  # cv2 fixed-point bits: coordinates are drawn with 1/16 pixel precision
ONE = 1 << SHIFT
SCENES = ("room", "kitchen", "garden")
PROPS = ("red_cup", "blue_bottle", "broom", "yellow_ball", "orange_ball", "phone", "book")
PROP_COLOURS = {
    "red_cup": (220, 30, 30),
    "blue_bottle": (30, 70, 230),
    "yellow_ball": (245, 220, 20),
    "orange_ball": (255, 130, 0),
    "phone": (20, 20, 20),
    "book": (120, 60, 20),
    "broom": (140, 90, 40),
    "straw": (200, 170, 90),
}
SKIN = ((233, 196, 160), (205, 150, 110), (160, 105, 70), (105, 70, 45))
HAIR = ((30, 25, 20), (90, 60, 30), (160, 130, 80), (110, 110, 110))
CLOTHES = (
    (90, 90, 95), (150, 150, 150), (60, 80, 60), (110, 120, 80), (80, 70, 100),
    (130, 100, 80), (70, 90, 110), (150, 120, 130), (50, 50, 55), (170, 160, 140),
)  # fmt: skip


def _pt(xy: np.ndarray) -> tuple[int, int]:
    """A float (x, y) as cv2 fixed-point integers."""
    return round(float(xy[0]) * ONE), round(float(xy[1]) * ONE)


def _jitter_colour(
    rng: np.random.Generator, colour: tuple[int, int, int], amount: int = 15
) -> tuple[int, ...]:
    return tuple(int(np.clip(c + rng.integers(-amount, amount + 1), 0, 255)) for c in colour)


def draw_scene(scene: str, height: int, width: int, ground: float, rng: np.random.Generator) -> np.ndarray:
    """A background (H, W, 3); ``ground`` is the image row where the floor (or the horizon area) begins."""
    img = np.empty((height, width, 3), np.uint8)
    g = int(ground)
    if scene == "garden":
        sky = _jitter_colour(rng, (150, 190, 235))
        img[:] = sky
        img[: g // 2] = _jitter_colour(rng, (120, 170, 230))
        img[g - 25 :] = _jitter_colour(rng, (80, 150, 60))
        cv2.rectangle(img, (0, g - 30), (width, g - 24), _jitter_colour(rng, (110, 80, 50)), -1)  # fence rail
        for x in range(int(rng.integers(0, 12)), width, 12):
            cv2.line(img, (x, g - 38), (x, g - 24), (120, 90, 55), 2)
        tx = int(rng.uniform(0.05, 0.95) * width)
        cv2.rectangle(img, (tx - 3, g - 55), (tx + 3, g - 25), (90, 60, 35), -1)
        cv2.circle(img, (tx, g - 60), int(rng.integers(12, 18)), _jitter_colour(rng, (50, 120, 50)), -1)
    elif scene == "kitchen":
        img[:] = _jitter_colour(rng, (235, 235, 225), 8)
        for y in range(0, g, 8):
            img[y] = (200, 200, 195)
        img[:g, ::8] = (200, 200, 195)
        img[g:] = _jitter_colour(rng, (150, 150, 155))
        cx = int(rng.uniform(0, 0.5) * width)
        cabinets = _jitter_colour(rng, (95, 70, 50))
        cv2.rectangle(img, (cx, g - 30), (cx + width // 2, g), cabinets, -1)  # counter
        cv2.rectangle(img, (cx, 4), (cx + width // 2, 26), cabinets, -1)  # wall cabinets
        cv2.rectangle(img, (cx, g - 31), (cx + width // 2, g - 28), (60, 60, 60), -1)  # worktop
        fx = (cx + width // 2 + 10) % (width - 24)
        cv2.rectangle(img, (fx, g - 70), (fx + 22, g), (245, 245, 245), -1)  # fridge
        cv2.rectangle(img, (fx, g - 70), (fx + 22, g), (170, 170, 170), 1)
    else:
        wall = CLOTHES[int(rng.integers(len(CLOTHES)))]
        img[:] = _jitter_colour(rng, tuple(int(0.5 * c + 100) for c in wall), 10)
        img[g:] = _jitter_colour(rng, (120, 100, 80), 25)
        for _ in range(int(rng.integers(1, 4))):  # furniture: shelves, doors, pictures
            x0, y0 = int(rng.integers(0, width - 20)), int(rng.integers(5, g - 20))
            w_, h_ = int(rng.integers(10, 40)), int(rng.integers(10, 50))
            colour = _jitter_colour(rng, CLOTHES[int(rng.integers(len(CLOTHES)))], 20)
            cv2.rectangle(img, (x0, y0), (x0 + w_, min(y0 + h_, g)), colour, -1)
    return img


def distractor_tracks(
    rng: np.random.Generator, num_frames: int, height: int, width: int, count: int
) -> list[tuple[str, tuple[int, ...], int, np.ndarray]]:
    """``count`` moving shapes: (kind, colour, radius, centres (T, 2)) bouncing inside the image."""
    tracks = []
    t = np.arange(num_frames)[:, None]
    for _ in range(count):
        start = rng.uniform([0, 0], [width, height])
        velocity = rng.uniform(-2.5, 2.5, size=2)
        pos = start + velocity * t
        span = np.array([width, height])
        pos = span - np.abs(span - np.mod(pos, 2 * span))  # bounce off the borders
        colour = _jitter_colour(rng, CLOTHES[int(rng.integers(len(CLOTHES)))], 30)
        tracks.append((("circle", "square")[int(rng.integers(2))], colour, int(rng.integers(3, 8)), pos))
    return tracks


def draw_distractors(img: np.ndarray, tracks: list, frame: int, offset: np.ndarray) -> None:
    for kind, colour, radius, pos in tracks:
        x, y = (pos[frame] - offset).astype(int)
        if kind == "circle":
            cv2.circle(img, (int(x), int(y)), radius, colour, -1, cv2.LINE_AA)
        else:
            cv2.rectangle(
                img, (int(x) - radius, int(y) - radius), (int(x) + radius, int(y) + radius), colour, -1
            )


def draw_person(img: np.ndarray, joints: np.ndarray, height: float, look: dict) -> None:
    """Draw one person (joints (17, 2) in image pixels) of body height ``height`` px onto ``img``."""

    def limb(a: int, b: int, colour: tuple, width: float) -> None:
        thickness = max(1, round(width * height))
        cv2.line(img, _pt(joints[a]), _pt(joints[b]), colour, thickness, cv2.LINE_AA, SHIFT)

    for hip, knee, ankle, side in (
        (sk.L_HIP, sk.L_KNEE, sk.L_ANKLE, 1),
        (sk.R_HIP, sk.R_KNEE, sk.R_ANKLE, -1),
    ):
        limb(hip, knee, look["pants"], 0.075)
        limb(knee, ankle, look["pants"], 0.06)
        toe = joints[ankle] + np.array([side * 0.05 * height, 0.01 * height])
        cv2.line(
            img, _pt(joints[ankle]), _pt(toe), look["shoes"], max(1, int(0.04 * height)), cv2.LINE_AA, SHIFT
        )
    shoulders, hips = joints[[sk.L_SHOULDER, sk.R_SHOULDER]], joints[[sk.L_HIP, sk.R_HIP]]
    widen = (shoulders[0] - shoulders[1]) * 0.12
    torso = np.array([shoulders[0] + widen, shoulders[1] - widen, hips[1] - widen / 2, hips[0] + widen / 2])
    cv2.fillPoly(img, [np.array([_pt(p) for p in torso], np.int32)], look["shirt"], cv2.LINE_AA, SHIFT)
    neck = shoulders.mean(axis=0)
    cv2.line(
        img, _pt(neck), _pt(joints[sk.NOSE]), look["skin"], max(1, int(0.05 * height)), cv2.LINE_AA, SHIFT
    )
    centre = joints[[sk.L_EYE, sk.R_EYE]].mean(axis=0)
    up = (centre - joints[sk.NOSE]) / max(float(np.linalg.norm(centre - joints[sk.NOSE])), 1e-6)
    radius = 0.07 * height
    cv2.circle(img, _pt(centre), int(radius * ONE), look["hair"], -1, cv2.LINE_AA, SHIFT)
    face = centre - 0.25 * radius * up
    cv2.circle(img, _pt(face), int(0.8 * radius * ONE), look["skin"], -1, cv2.LINE_AA, SHIFT)
    for shoulder, elbow, wrist in (
        (sk.L_SHOULDER, sk.L_ELBOW, sk.L_WRIST),
        (sk.R_SHOULDER, sk.R_ELBOW, sk.R_WRIST),
    ):
        limb(shoulder, elbow, look["shirt"], 0.055)
        limb(elbow, wrist, look["skin"], 0.045)
        cv2.circle(img, _pt(joints[wrist]), int(0.028 * height * ONE), look["skin"], -1, cv2.LINE_AA, SHIFT)


def sample_look(rng: np.random.Generator) -> dict:
    """Clothes, skin and hair colours of one person."""
    shirt, pants = rng.choice(len(CLOTHES), size=2, replace=False)
    return {
        "shirt": _jitter_colour(rng, CLOTHES[shirt]),
        "pants": _jitter_colour(rng, CLOTHES[pants]),
        "shoes": _jitter_colour(rng, (40, 35, 30)),
        "skin": _jitter_colour(rng, SKIN[int(rng.integers(len(SKIN)))], 8),
        "hair": HAIR[int(rng.integers(len(HAIR)))],
    }


def prop_track(prop: str, joints: np.ndarray, height: float, side: int, release: int | None) -> np.ndarray:
    """Where the prop is in each frame (T, 2), image pixels before camera jitter.

    Held props follow the hand; a thrown ball flies on from its release frame, a kicked ball lies by the
    kicking foot until the kick and then rolls away.
    """
    wrist = joints[:, (sk.L_WRIST, sk.R_WRIST)[side]]  # (T, 2)
    outward = 1.0 if side == 0 else -1.0
    if prop == "book":
        return joints[:, [sk.L_WRIST, sk.R_WRIST]].mean(axis=1) + np.array([0, -0.02 * height])
    if prop == "broom":
        return joints[:, sk.R_WRIST]
    if prop == "orange_ball":
        start = joints[0, (sk.L_ANKLE, sk.R_ANKLE)[side]] + [outward * 0.16 * height, 0.0]
        track = np.repeat(start[None], len(joints), axis=0)
        if release is not None:
            dt = np.clip(np.arange(len(joints)) - release, 0, None)[:, None]
            track = track + dt * np.array([outward * 0.05 * height, -0.002 * height])
        return track
    if prop == "yellow_ball" and release is not None:
        track = wrist.copy()
        dt = np.clip(np.arange(len(joints)) - release, 0, None)[:, None]
        velocity = np.array([-outward * 0.06 * height, -0.05 * height])
        gravity = np.array([0.0, 0.005 * height])
        track[release:] = wrist[release] + dt[release:] * velocity + dt[release:] ** 2 * gravity
        return track
    return wrist


def draw_prop(
    img: np.ndarray, prop: str, pos: np.ndarray, joints: np.ndarray, height: float, side: int
) -> None:
    """Draw ``prop`` at ``pos`` (image pixels); ``joints`` (17, 2) of this frame orient the broom."""
    x, y = pos
    colour = PROP_COLOURS.get(prop, (0, 0, 0))

    def box(w: float, h: float, c: tuple) -> None:
        p0, p1 = (
            np.array([x - w * height / 2, y - h * height / 2]),
            np.array([x + w * height / 2, y + h * height / 2]),
        )
        cv2.rectangle(img, _pt(p0), _pt(p1), c, -1, cv2.LINE_AA, SHIFT)

    if prop == "red_cup":
        box(0.075, 0.09, colour)
    elif prop == "blue_bottle":
        box(0.05, 0.17, colour)
        cv2.circle(
            img,
            _pt(pos - [0, 0.095 * height]),
            int(0.02 * height * ONE),
            (230, 230, 230),
            -1,
            cv2.LINE_AA,
            SHIFT,
        )
    elif prop == "phone":
        box(0.045, 0.1, colour)
    elif prop in ("yellow_ball", "orange_ball"):
        cv2.circle(img, _pt(pos), int(0.05 * height * ONE), colour, -1, cv2.LINE_AA, SHIFT)
    elif prop == "book":
        box(0.2, 0.14, colour)
        box(0.17, 0.11, (235, 230, 215))
    elif prop == "broom":
        top, low = joints[sk.L_WRIST], joints[sk.R_WRIST]
        direction = (low - top) / max(float(np.linalg.norm(low - top)), 1e-6)
        end = low + direction * 0.35 * height
        cv2.line(
            img,
            _pt(top - direction * 0.06 * height),
            _pt(end),
            colour,
            max(1, int(0.03 * height)),
            cv2.LINE_AA,
            SHIFT,
        )
        normal = np.array([-direction[1], direction[0]]) * 0.07 * height
        head = np.array(
            [
                end - normal,
                end + normal,
                end + normal + direction * 0.08 * height,
                end - normal + direction * 0.08 * height,
            ]
        )
        cv2.fillPoly(
            img, [np.array([_pt(p) for p in head], np.int32)], PROP_COLOURS["straw"], cv2.LINE_AA, SHIFT
        )


def camera_offsets(rng: np.random.Generator, num_frames: int, amplitude: float) -> np.ndarray:
    """(T, 2) integer camera displacement in pixels: a smooth random shake of at most ``amplitude``."""
    tau = np.linspace(0, 1, num_frames)[:, None]
    freq = rng.uniform(0.5, 3.0, size=(2, 2))
    phase = rng.uniform(0, 1, size=(2, 2))
    shake = 0.5 * (
        np.sin(2 * np.pi * (tau * freq[0] + phase[0])) + np.sin(2 * np.pi * (tau * freq[1] + phase[1]))
    )
    return np.round(amplitude * shake).astype(np.int64)
