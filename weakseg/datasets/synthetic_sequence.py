"""Synthetic frame sequences: a camera panning over a procedural scene (the demo's sequences).

Frame ``k`` of ``T`` shows the scene shifted by ``pan * (T - 1 - k)`` pixels down and right of
the last frame, the annotated one; every frame gets its own sensor noise and, now and then, a
cloud. A model that reads several frames can average the noise away and see under a cloud, a
single-frame model cannot: the setting of the T = 4 vs T = 1 benchmark.
"""

from __future__ import annotations

import numpy as np

from weakseg.datasets.synthetic_scene import _smooth_noise, generate_scene

#: Brightness a cloud's core tends to (DN), in every band.
CLOUD_DN = 235.0


def render_sequence(
    seed: int,
    height: int,
    width: int,
    length: int,
    pan: int = 2,
    frame_noise: float = 0.0,
    cloud_probability: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Render ``length`` frames ending at the annotated one, and its label.

    Args:
        seed: the scene's seed (:func:`~weakseg.datasets.synthetic_scene.generate_scene`,
            rendered ``pan * (length - 1)`` pixels larger than a frame); the noise and cloud of
            the frame ``j`` steps before the last are seeded by ``(seed, j)``.
        height, width: frame size, pixels.
        length: T >= 1 frames.
        pan: camera motion between consecutive frames, pixels along each axis.
        frame_noise: standard deviation of the per-frame Gaussian noise, DN (0..255 units).
        cloud_probability: chance that a frame has a cloud (a soft blob blended towards
            :data:`CLOUD_DN`), in [0, 1].

    Returns:
        ``(frames, label)``: (T, height, width, 3) uint8, oldest first; (height, width) uint8
        class indices of the last frame. With ``length = 1`` and no noise or cloud, exactly
        ``generate_scene(seed, height, width)``.

    Raises:
        ValueError: ``length < 1``, ``pan < 0``, or the arguments of ``generate_scene``.
    """
    if length < 1 or pan < 0:
        raise ValueError(f"length must be >= 1 and pan >= 0, got length={length}, pan={pan}")
    margin = pan * (length - 1)
    image, label = generate_scene(seed, height + margin, width + margin)
    frames = []
    for k in range(length):
        offset = pan * (length - 1 - k)
        frame = image[offset : offset + height, offset : offset + width]
        frames.append(_weather(frame, np.random.default_rng([seed, length - 1 - k]), frame_noise, cloud_probability))
    return np.stack(frames), label[:height, :width]


def _weather(frame: np.ndarray, rng: np.random.Generator, noise: float, cloud_probability: float) -> np.ndarray:
    """``frame`` with Gaussian noise of ``noise`` DN and, with ``cloud_probability``, a cloud."""
    has_cloud = rng.random() < cloud_probability
    if noise == 0 and not has_cloud:
        return frame.copy()
    out = frame.astype(np.float32)
    if has_cloud:
        h, w = frame.shape[:2]
        cy, cx, radius = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(0.15, 0.35) * min(h, w)
        y, x = np.ogrid[:h, :w]
        blob = np.clip(1.5 - np.hypot(y - cy, x - cx) / radius, 0, 1) * (0.85 + 0.15 * _smooth_noise(rng, h, w, 8))
        alpha = np.clip(blob, 0, 0.95)[..., None]
        out = (1 - alpha) * out + alpha * CLOUD_DN
    if noise:
        out += rng.normal(0, noise, out.shape).astype(np.float32)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)
