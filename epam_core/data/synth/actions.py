"""The SynthActions action library: what each class does, what it holds and where it happens.

The classes are built so that RGB and pose are complementary, as in real data:

* ``decides="pose"``: wave, clap and raise_arms look alike (no object, the same scenes and clothes) and
  differ only in motion;
* ``decides="rgb"``: two pairs share one motion exactly and differ only in appearance: the held object
  (drink_red_cup / drink_blue_bottle) or the scene (sweep_kitchen / sweep_garden);
* ``decides="both"``: the rest differ in motion and most also in a held object.

A motion maps normalised time ``tau`` (T,) in [0, 1] to targets for ``skeleton.forward_kinematics``
(fractions of the body height; hands relative to the shoulder centre, feet to the hip centre). ``speed``
scales the repetitions and ``phase`` shifts them, so no two clips are in step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from epam_core.data.synth.skeleton import BodyShape

TWO_PI = 2 * np.pi


@dataclass(frozen=True)
class Motion:
    """Targets over T frames (fractions of the body height) and the moment a prop leaves the body."""

    hands: np.ndarray  # (T, 2, 2) [left, right] hand targets, torso frame, relative to the shoulder centre
    feet: np.ndarray  # (T, 2, 2) [left, right] foot targets relative to the hip centre
    lean: np.ndarray  # (T,) torso lean, radians
    head: np.ndarray  # (T,) head tilt, radians
    lift: np.ndarray  # (T,) whole body above the ground (jumps)
    arm_fs: np.ndarray  # (T, 2) foreshortening of the [left, right] arm
    leg_fs: np.ndarray  # (T, 2)
    side: int = 0  # 0: the left hand/foot does the one-sided part, 1: the right
    release: int | None = None  # frame at which a thrown or kicked prop leaves the body


MotionFn = Callable[[np.ndarray, float, float, np.random.Generator, BodyShape], Motion]


@dataclass(frozen=True)
class Action:
    name: str
    decides: str  # which stream can tell this class from all others: "pose", "rgb" or "both"
    motion: MotionFn
    prop: str | None = None  # see render.PROPS
    scene: str = "room"  # see render.SCENES


def _rest(tau: np.ndarray, shape: BodyShape) -> dict[str, np.ndarray]:
    t = len(tau)
    return {
        "hands": np.repeat(shape.rest_hands[None], t, axis=0),
        "feet": np.repeat(shape.rest_feet[None], t, axis=0),
        "lean": np.zeros(t),
        "head": np.zeros(t),
        "lift": np.zeros(t),
        "arm_fs": np.ones((t, 2)),
        "leg_fs": np.ones((t, 2)),
    }


def _cycle(tau: np.ndarray, cycles: float, speed: float, phase: float) -> np.ndarray:
    """Phase angle (T,) of a periodic motion with ``cycles`` repetitions per clip at speed 1."""
    return TWO_PI * (cycles * speed * tau + phase)


def _ramp(u: np.ndarray) -> np.ndarray:
    """Smoothstep of u clipped to [0, 1]."""
    u = np.clip(u, 0, 1)
    return u * u * (3 - 2 * u)


def _arm_arc(angle: np.ndarray, sign: float, shape: BodyShape, reach: float = 0.3) -> np.ndarray:
    """(T, 2) hand on a circle around the shoulder; angle 0 down, pi/2 sideways out, pi up."""
    return np.stack([sign * (shape.shoulder_half + reach * np.sin(angle)), reach * np.cos(angle)], axis=1)


def wave(tau: np.ndarray, speed: float, phase: float, rng: np.random.Generator, shape: BodyShape) -> Motion:
    m, side = _rest(tau, shape), int(rng.integers(2))
    sign = 1.0 - 2 * side
    swing = np.sin(_cycle(tau, 4, speed, phase))
    m["hands"][:, side] = np.stack(
        [sign * (shape.shoulder_half + 0.1 + 0.09 * swing), np.full_like(swing, -0.2)], axis=1
    )
    return Motion(**m, side=side)


def clap(tau: np.ndarray, speed: float, phase: float, rng: np.random.Generator, shape: BodyShape) -> Motion:
    m = _rest(tau, shape)
    gap = 0.015 + 0.1 * (0.5 + 0.5 * np.cos(_cycle(tau, 4, speed, phase)))
    m["hands"][:, 0] = np.stack([gap, np.full_like(gap, 0.12)], axis=1)
    m["hands"][:, 1] = np.stack([-gap, np.full_like(gap, 0.12)], axis=1)
    m["arm_fs"][:] = 0.85
    return Motion(**m)


def raise_arms(
    tau: np.ndarray, speed: float, phase: float, rng: np.random.Generator, shape: BodyShape
) -> Motion:
    m = _rest(tau, shape)
    angle = 0.3 + 2.6 * (0.5 - 0.5 * np.cos(_cycle(tau, 1.5, speed, phase)))
    m["hands"][:, 0], m["hands"][:, 1] = _arm_arc(angle, 1.0, shape), _arm_arc(angle, -1.0, shape)
    return Motion(**m)


def drink(tau: np.ndarray, speed: float, phase: float, rng: np.random.Generator, shape: BodyShape) -> Motion:
    m, side = _rest(tau, shape), int(rng.integers(2))
    sign = 1.0 - 2 * side
    up = _ramp(1.6 * (0.5 - 0.5 * np.cos(_cycle(tau, 1.5, speed, phase))) - 0.3)  # pauses at mouth and rest
    mouth = np.array([sign * 0.03, -0.08])
    m["hands"][:, side] = (1 - up)[:, None] * m["hands"][:, side] + up[:, None] * mouth
    m["arm_fs"][:, side] = 1 - 0.15 * up
    m["head"] = -sign * 0.12 * up
    return Motion(**m, side=side)


def sweep(tau: np.ndarray, speed: float, phase: float, rng: np.random.Generator, shape: BodyShape) -> Motion:
    m = _rest(tau, shape)
    swing = np.sin(_cycle(tau, 3, speed, phase))
    x = 0.02 + 0.13 * swing
    m["hands"][:, 0] = np.stack([x + 0.05, np.full_like(x, 0.16)], axis=1)
    m["hands"][:, 1] = np.stack([x - 0.03, np.full_like(x, 0.31)], axis=1)
    m["lean"] = 0.1 * swing
    return Motion(**m)


def throw(tau: np.ndarray, speed: float, phase: float, rng: np.random.Generator, shape: BodyShape) -> Motion:
    m, side = _rest(tau, shape), int(rng.integers(2))
    sign = 1.0 - 2 * side
    start = 0.1 + 0.2 * phase
    u = (tau - start) * 2.2 * speed  # 0..1: wind up, swing, follow through
    back = _ramp(u / 0.45) * (1 - _ramp((u - 0.45) / 0.2))
    forward = _ramp((u - 0.45) / 0.2) * (1 - _ramp((u - 0.85) / 0.3))
    rest = m["hands"][:, side].copy()
    wind = np.array([sign * (shape.shoulder_half + 0.16), -0.24])
    follow = np.array([-sign * 0.06, 0.1])
    m["hands"][:, side] = (
        rest * (1 - back - forward)[:, None] + wind * back[:, None] + follow * forward[:, None]
    )
    m["arm_fs"][:, side] = 1 - 0.3 * forward
    m["lean"] = sign * (0.15 * back - 0.15 * forward)
    release = int(np.argmax(u >= 0.58)) if (u >= 0.58).any() else None
    return Motion(**m, side=side, release=release)


def squat(tau: np.ndarray, speed: float, phase: float, rng: np.random.Generator, shape: BodyShape) -> Motion:
    m = _rest(tau, shape)
    depth = _ramp(1.4 * (0.5 - 0.5 * np.cos(_cycle(tau, 1.5, speed, phase))) - 0.2)
    m["feet"][:, :, 0] *= 1 + 0.5 * depth[:, None]
    m["feet"][:, :, 1] -= 0.2 * depth[:, None]
    front = np.array([[0.07, 0.06], [-0.07, 0.06]])
    m["hands"] = (1 - depth)[:, None, None] * m["hands"] + depth[:, None, None] * front
    m["arm_fs"] = np.repeat((1 - 0.35 * depth)[:, None], 2, axis=1)
    return Motion(**m)


def phone_call(
    tau: np.ndarray, speed: float, phase: float, rng: np.random.Generator, shape: BodyShape
) -> Motion:
    m, side = _rest(tau, shape), int(rng.integers(2))
    sign = 1.0 - 2 * side
    up = _ramp((tau - 0.05 * phase) / 0.2)
    ear = np.array([sign * 0.07, -0.14])
    m["hands"][:, side] = (1 - up)[:, None] * m["hands"][:, side] + up[:, None] * ear
    m["head"] = sign * (0.15 * up + 0.05 * np.sin(_cycle(tau, 2, speed, phase)))
    return Motion(**m, side=side)


def jump(tau: np.ndarray, speed: float, phase: float, rng: np.random.Generator, shape: BodyShape) -> Motion:
    m = _rest(tau, shape)
    wave_ = np.sin(_cycle(tau, 3, speed, phase))
    air = np.clip(wave_, 0, 1)
    crouch = np.clip(-wave_, 0, 1)
    m["lift"] = 0.14 * air
    m["feet"][:, :, 1] -= 0.1 * crouch[:, None]
    m["feet"][:, :, 0] *= 1 + 0.3 * crouch[:, None]
    m["hands"][:, :, 1] -= 0.3 * air[:, None]
    m["hands"][:, :, 0] *= (1 + 0.5 * air)[:, None]
    return Motion(**m)


def kick_ball(
    tau: np.ndarray, speed: float, phase: float, rng: np.random.Generator, shape: BodyShape
) -> Motion:
    m, side = _rest(tau, shape), int(rng.integers(2))
    sign = 1.0 - 2 * side
    start = 0.15 + 0.2 * phase
    u = (tau - start) * 2.5 * speed
    back = _ramp(u / 0.3) * (1 - _ramp((u - 0.3) / 0.15))
    kick = _ramp((u - 0.3) / 0.15) * (1 - _ramp((u - 0.7) / 0.3))
    m["feet"][:, side, 0] += sign * (0.2 * kick - 0.05 * back)
    m["feet"][:, side, 1] -= 0.22 * kick + 0.08 * back
    m["leg_fs"][:, side] = 1 - 0.3 * back
    m["lean"] = -sign * 0.15 * kick
    m["hands"][:, 1 - side, 0] -= sign * 0.08 * kick  # balance with the other arm
    m["hands"][:, 1 - side, 1] -= 0.12 * kick
    release = int(np.argmax(u >= 0.42)) if (u >= 0.42).any() else None
    return Motion(**m, side=side, release=release)


def read_book(
    tau: np.ndarray, speed: float, phase: float, rng: np.random.Generator, shape: BodyShape
) -> Motion:
    m = _rest(tau, shape)
    turn = _ramp(2 * (0.5 - 0.5 * np.cos(_cycle(tau, 1, speed, phase))) - 1)  # one page turn per cycle
    m["hands"][:, 0] = [0.09, 0.14]
    m["hands"][:, 1] = np.stack([-0.09 + 0.13 * turn, 0.14 - 0.04 * turn], axis=1)
    m["arm_fs"][:] = 0.8
    m["head"] = 0.06 * np.sin(_cycle(tau, 0.7, speed, phase))
    return Motion(**m)


def jumping_jacks(
    tau: np.ndarray, speed: float, phase: float, rng: np.random.Generator, shape: BodyShape
) -> Motion:
    m = _rest(tau, shape)
    open_ = 0.5 - 0.5 * np.cos(_cycle(tau, 3, speed, phase))
    angle = 0.3 + 2.5 * open_
    m["hands"][:, 0], m["hands"][:, 1] = _arm_arc(angle, 1.0, shape), _arm_arc(angle, -1.0, shape)
    m["feet"][:, 0, 0] += 0.14 * open_
    m["feet"][:, 1, 0] -= 0.14 * open_
    m["lift"] = 0.04 * np.abs(np.sin(_cycle(tau, 3, speed, phase)))
    return Motion(**m)


def side_stretch(
    tau: np.ndarray, speed: float, phase: float, rng: np.random.Generator, shape: BodyShape
) -> Motion:
    m = _rest(tau, shape)
    up = _ramp(tau / 0.2)
    overhead = np.array([[0.06, -0.4], [-0.06, -0.4]])
    m["hands"] = (1 - up)[:, None, None] * m["hands"] + up[:, None, None] * overhead
    m["lean"] = 0.4 * up * np.sin(_cycle(tau, 1.2, speed, phase))
    m["feet"][:, :, 0] *= 1.4
    return Motion(**m)


def march(tau: np.ndarray, speed: float, phase: float, rng: np.random.Generator, shape: BodyShape) -> Motion:
    m = _rest(tau, shape)
    step = np.sin(_cycle(tau, 2, speed, phase))
    knee = np.stack([np.clip(step, 0, 1), np.clip(-step, 0, 1)], axis=1)  # (T, 2) raised amount per leg
    m["feet"][:, :, 1] -= 0.2 * knee
    m["leg_fs"] = 1 - 0.35 * knee
    m["hands"][:, :, 1] -= 0.08 * knee[:, ::-1]  # the opposite arm swings up
    m["arm_fs"] = 1 - 0.3 * knee[:, ::-1]
    return Motion(**m)


ACTIONS: tuple[Action, ...] = (
    Action("wave", "pose", wave),
    Action("clap", "pose", clap),
    Action("raise_arms", "pose", raise_arms),
    Action("drink_red_cup", "rgb", drink, prop="red_cup"),
    Action("drink_blue_bottle", "rgb", drink, prop="blue_bottle"),
    Action("sweep_kitchen", "rgb", sweep, prop="broom", scene="kitchen"),
    Action("sweep_garden", "rgb", sweep, prop="broom", scene="garden"),
    Action("throw_ball", "both", throw, prop="yellow_ball"),
    Action("squat", "both", squat),
    Action("phone_call", "both", phone_call, prop="phone"),
    Action("jump", "both", jump),
    Action("kick_ball", "both", kick_ball, prop="orange_ball"),
    Action("read_book", "both", read_book, prop="book"),
    Action("jumping_jacks", "both", jumping_jacks),
    Action("side_stretch", "both", side_stretch),
    Action("march", "both", march),
)
MAX_CLASSES = len(ACTIONS)
