"""Procedural aerial-like scenes with the six ISPRS Vaihingen classes.

A scene is a top-down view at roughly Vaihingen resolution (a car is about
4 x 8 pixels). Layers are drawn in order, later over earlier: low vegetation
background, roads and paved areas, buildings, trees, cars, clutter; then
cast shadows, texture, illumination change and sensor noise.

The colours are deliberately ambiguous (trees and lawns share hue, some roofs
have the tone of asphalt, clutter borrows roof/road colours, shadows darken
everything) so that a per-pixel colour lookup cannot segment the scene; shape
and context (straight roof edges, round textured crowns, cars on roads) are
needed. Urban density varies over the scene, so label proportions of small
tiles differ widely.

Only numpy is used; shapes are drawn with coordinate grids inside small
windows (Python loops run over objects, never pixels), so a 512 x 512 scene
takes about 0.2 s on one CPU core.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CLASS_NAMES = ("impervious_surfaces", "building", "low_vegetation", "tree", "car", "clutter")
IMPERVIOUS, BUILDING, LOW_VEG, TREE, CAR, CLUTTER = range(6)
MIN_SIZE = 32

# Base colours in IRRG order (near-infrared, red, green), DN 0..255.
# Vegetation reflects strongly in NIR, hence high first channel.
_LAWN = np.array([165.0, 95.0, 105.0])
_TREE = np.array([148.0, 82.0, 95.0])
_ASPHALT = np.array([122.0, 122.0, 128.0])
_PAVING = np.array([150.0, 146.0, 150.0])
_ROOFS = np.array(
    [
        [92.0, 94.0, 102.0],  # dark grey
        [124.0, 123.0, 128.0],  # same tone as asphalt on purpose
        [172.0, 128.0, 92.0],  # reddish clay tiles
        [200.0, 198.0, 200.0],
    ]
)  # bright flat roofs
_CARS = np.array(
    [
        [215.0, 215.0, 215.0],
        [45.0, 45.0, 52.0],
        [160.0, 160.0, 166.0],
        [165.0, 190.0, 60.0],
        [62.0, 52.0, 88.0],
        [150.0, 110.0, 70.0],
    ]
)
_SOIL = np.array([152.0, 128.0, 112.0])
_CONTAINERS = np.array([[70.0, 110.0, 160.0], [205.0, 175.0, 70.0], [120.0, 60.0, 60.0]])


def _smooth_noise(rng, h, w, cell):
    """Value noise with features of about `cell` pixels, roughly N(0, 1) at grid nodes."""
    g = rng.standard_normal((h // cell + 2, w // cell + 2)).astype(np.float32)
    y, x = np.arange(h, dtype=np.float32) / cell, np.arange(w, dtype=np.float32) / cell
    y0, x0 = y.astype(int), x.astype(int)
    fy, fx = (y - y0)[:, None], (x - x0)[None, :]
    fy, fx = fy * fy * (3 - 2 * fy), fx * fx * (3 - 2 * fx)  # smoothstep hides the grid
    top = g[y0][:, x0] * (1 - fx) + g[y0][:, x0 + 1] * fx
    bot = g[y0 + 1][:, x0] * (1 - fx) + g[y0 + 1][:, x0 + 1] * fx
    return top * (1 - fy) + bot * fy


def _shift(a, dy, dx):
    """A moved by (dy, dx) pixels, zero-filled (np.roll would wrap shadows around)."""
    out = np.zeros_like(a)
    h, w = a.shape
    if abs(dy) < h and abs(dx) < w:
        out[max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = a[
            max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)
        ]
    return out


def _window(cy, cx, r, h, w, theta=0.0):
    """Slices of the image window of radius r around (cy, cx), and local coordinates.

    The coordinates are u along theta and v across; None when the window lies outside the image.
    """
    y0, y1 = max(int(cy - r), 0), min(int(cy + r) + 2, h)
    x0, x1 = max(int(cx - r), 0), min(int(cx + r) + 2, w)
    if y0 >= y1 or x0 >= x1:
        return None
    dy = np.arange(y0, y1, dtype=np.float32)[:, None] - np.float32(cy)
    dx = np.arange(x0, x1, dtype=np.float32)[None, :] - np.float32(cx)
    c, s = np.float32(np.cos(theta)), np.float32(np.sin(theta))
    return (slice(y0, y1), slice(x0, x1)), dx * c + dy * s, dy * c - dx * s


def _blob(u, v, r, rng):
    """Irregular round mask of mean radius r; also returns normalised distance."""
    ang = np.arctan2(v, u)
    wobble = 0.13 * np.sin(3 * ang + rng.uniform(0, 6.3)) + 0.08 * np.sin(5 * ang + rng.uniform(0, 6.3))
    rr = r * (1 + wobble)
    d = np.sqrt(u * u + v * v) / rr
    return d < 1, d


@dataclass
class _Canvas:
    """The layers being drawn: image, label and the per-pixel fields shading uses later.

    ``tex`` is the texture amplitude (DN), ``shade`` a multiplicative brightness, ``z`` the
    object height that casts shadows; ``urban`` marks the dense side of the scene.
    """

    rng: np.random.Generator
    h: int
    w: int
    area: float
    yy: np.ndarray
    xx: np.ndarray
    label: np.ndarray
    img: np.ndarray
    tex: np.ndarray
    shade: np.ndarray
    z: np.ndarray
    urban: np.ndarray | None = None
    urban_idx: np.ndarray | None = None


def generate_scene(seed: int, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Generate one synthetic aerial scene.

    Args:
        seed: non-negative integer; the only source of randomness
            (``np.random.default_rng(seed)``), so equal arguments give
            byte-identical arrays.
        height, width: scene size in pixels, each at least 32. Object sizes are
            fixed in pixels (cars ~4 x 8 px), so larger scenes hold more objects.

    Returns:
        image: (height, width, 3) uint8, IRRG false colour (band order
            near-infrared, red, green, as ISPRS Vaihingen), DN 0..255.
        label: (height, width) uint8 with values 0..5, indices into CLASS_NAMES.

    Raises:
        ValueError: if seed < 0, or height or width < 32.
    """
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    for name, val in (("height", height), ("width", width)):
        if val < MIN_SIZE:
            raise ValueError(f"{name} must be >= {MIN_SIZE} pixels, got {val}")
    # The layers draw from one generator in this order; reordering them changes every scene.
    c = _new_canvas(np.random.default_rng(seed), int(height), int(width))
    _urban_density(c)
    _low_vegetation(c)
    segs, diag = _road_segments(c)
    road = _draw_roads(c, segs)
    plazas = _plazas(c)
    _buildings(c, diag)
    sun = _trees(c, segs)
    _cars(c, segs, plazas)
    _clutter(c, road)
    _cast_shadows(c, sun)
    return _finish(c), c.label


def _new_canvas(rng: np.random.Generator, h: int, w: int) -> _Canvas:
    """An empty canvas of low vegetation; object counts are tuned per 512 x 512 px."""
    return _Canvas(
        rng=rng,
        h=h,
        w=w,
        area=h * w / 512.0**2,
        yy=np.arange(h, dtype=np.float32)[:, None],
        xx=np.arange(w, dtype=np.float32)[None, :],
        label=np.full((h, w), LOW_VEG, np.uint8),
        img=np.empty((h, w, 3), np.float32),
        tex=np.full((h, w), 4.0, np.float32),
        shade=np.ones((h, w), np.float32),
        z=np.zeros((h, w), np.float32),
    )


def _urban_density(c: _Canvas) -> None:
    """Mark the urban side: a random-direction gradient guarantees a rural and an urban side."""
    rng, h, w = c.rng, c.h, c.w
    ang = rng.uniform(0, 2 * np.pi)
    u_field = ((c.yy - h / 2) * np.sin(ang) + (c.xx - w / 2) * np.cos(ang)) * (2.5 / max(h, w))
    u_field = u_field + 0.6 * _smooth_noise(rng, h, w, 128)  # an irregular boundary
    c.urban = u_field > np.quantile(u_field[::4, ::4], 1 - rng.uniform(0.5, 0.75))
    c.urban_idx = np.flatnonzero(c.urban)


def _low_vegetation(c: _Canvas) -> None:
    """Mottled lawns; in the countryside, fields with their own tone (lush, dry, bare) and crop rows."""
    rng, img = c.rng, c.img
    img[:] = _LAWN
    img += _smooth_noise(rng, c.h, c.w, 40)[..., None] * np.float32([16, 6, 6])
    for _ in range(int(rng.integers(8, 16) * c.area) + 1):
        win = _window(rng.uniform(0, c.h), rng.uniform(0, c.w), 90, c.h, c.w, rng.choice([0, np.pi / 2]))
        m = (np.abs(win[1]) < rng.uniform(25, 90)) & (np.abs(win[2]) < rng.uniform(20, 70))
        m &= ~c.urban[win[0]]
        tone = rng.choice([[-22, 28, 12], [18, -8, 0], [-35, 15, 5], [8, 5, 5]])
        rows = rng.uniform(0, 10) * np.sin(win[2] * (2 * np.pi / rng.uniform(4, 9)))
        img[win[0]][m] += np.float32(tone) + rows[..., None][m]


def _road_segments(c: _Canvas) -> tuple[list[tuple], float | None]:
    """Road centre lines (y0, x0, y1, x1, half_width) and the diagonal's angle (None without one).

    Full-span horizontal and vertical roads, maybe a diagonal, and urban side streets.
    """
    rng, h, w = c.rng, c.h, c.w
    segs = []
    for vertical, size in ((False, h), (True, w)):
        n = int(rng.integers(1, 4))
        # one road per band of the scene keeps parallel roads apart
        for pos in (np.arange(n) + rng.uniform(0.15, 0.85, n)) * (size / n):
            hw = rng.uniform(6, 12)
            segs.append((-20.0, pos, h + 20.0, pos, hw) if vertical else (pos, -20.0, pos, w + 20.0, hw))
    diag = None
    if rng.random() < 0.6:
        diag = rng.choice([1, -1]) * rng.uniform(0.5, 1.05)
        cy, cx, L = rng.uniform(0.2, 0.8) * h, rng.uniform(0.2, 0.8) * w, h + w
        dy, dx = L * np.sin(diag), L * np.cos(diag)
        segs.append((cy - dy, cx - dx, cy + dy, cx + dx, rng.uniform(4, 9)))
    for _ in range(int(rng.integers(4, 9) * c.area) + 1):
        y0, x0 = divmod(int(rng.choice(c.urban_idx)), w)
        a, L = rng.integers(0, 4) * np.pi / 2, rng.uniform(60, 220)
        segs.append((y0, x0, y0 + L * np.sin(a), x0 + L * np.cos(a), rng.uniform(3, 6)))
    return segs, diag


def _draw_roads(c: _Canvas, segs: list[tuple]) -> np.ndarray:
    """Draw the road segments as asphalt; returns the (h, w) bool road mask."""
    rng, h, w = c.rng, c.h, c.w
    road = np.zeros((h, w), bool)
    for y0, x0, y1, x1, hw in segs:
        dy, dx = y1 - y0, x1 - x0
        n = np.hypot(dy, dx)
        ya, yb = max(int(min(y0, y1) - hw), 0), min(int(max(y0, y1) + hw) + 2, h)
        xa, xb = max(int(min(x0, x1) - hw), 0), min(int(max(x0, x1) + hw) + 2, w)
        if ya >= yb or xa >= xb:
            continue
        sl, ry, rx = (slice(ya, yb), slice(xa, xb)), c.yy[ya:yb] - y0, c.xx[:, xa:xb] - x0
        along, across = (ry * dy + rx * dx) / n, (rx * dy - ry * dx) / n
        m = (np.abs(across) < hw) & (along > -hw) & (along < n + hw)
        road[sl] |= m
        c.img[sl][m] = _ASPHALT + rng.normal(0, 8)
        if hw > 7:  # dashed centre line: a cue for "road" that roofs lack
            c.img[sl][m & (np.abs(across) < 0.7) & (along % 14 < 7)] = 205
    c.label[road] = IMPERVIOUS
    c.tex[road] = 3
    return road


def _plazas(c: _Canvas) -> list[tuple]:
    """Paved plazas and parking lots in the urban area; returns their (cy, cx, hy, hx) boxes."""
    rng, plazas = c.rng, []
    for _ in range(int(rng.integers(2, 5) * c.area) + 1):
        cy, cx = divmod(int(rng.choice(c.urban_idx)), c.w)
        hy, hx = rng.uniform(14, 45), rng.uniform(14, 45)
        win = _window(cy, cx, max(hy, hx) + 1, c.h, c.w)
        m = (np.abs(win[2]) < hy) & (np.abs(win[1]) < hx)
        c.img[win[0]][m] = _PAVING + rng.normal(0, 10)
        c.label[win[0]][m] = IMPERVIOUS
        plazas.append((cy, cx, hy, hx))
    return plazas


def _buildings(c: _Canvas, diag: float | None) -> None:
    """Buildings: dense in the urban area, rare farmhouses outside; never on roads or plazas.

    Candidates are tried largest first, which packs urban blocks much more densely.
    """
    rng, h, w = c.rng, c.h, c.w
    thetas = [0.0, np.pi / 2] + ([diag] if diag is not None else [])
    paved = c.label == IMPERVIOUS
    n = int(5000 * c.area) + 10
    ys, xs, big = rng.uniform(0, h, n), rng.uniform(0, w, n), rng.random(n) < 0.03
    sizes = np.where(big, rng.uniform(25, 55, n), rng.uniform(9, 26, n))
    keep = c.urban[ys.astype(int), xs.astype(int)] | (rng.random(n) < 0.01)
    order = np.flatnonzero(keep)[np.argsort(-sizes[keep], kind="stable")]
    for cy, cx, hl, is_big in zip(ys[order], xs[order], sizes[order], big[order], strict=False):
        if c.label[int(cy), int(cx)] == BUILDING or paved[int(cy), int(cx)]:
            continue  # cheap rejection before any window is drawn
        _building(c, paved, cy, cx, hl, is_big, thetas)


def _building(c: _Canvas, paved, cy, cx, hl, is_big, thetas) -> None:
    """One building of half-length hl at (cy, cx), maybe L-shaped, with a paved yard."""
    rng = c.rng
    hw = hl * rng.uniform(0.45, 0.95)
    theta = thetas[rng.integers(len(thetas))] + rng.normal(0, 0.02)
    wing = (not is_big) and rng.random() < 0.35  # L-shaped: a wing at one end
    ext = hw + (rng.uniform(6, 14) if wing else 0)
    apron = rng.uniform(3, 10) if rng.random() < 0.8 else 0
    gap = rng.uniform(1, 4)
    win = _window(cy, cx, np.hypot(hl, ext) + apron + 3, c.h, c.w, theta)
    if win is None:
        return
    sl, u, v = win
    img, label = c.img[sl], c.label[sl]
    wl = hl * rng.uniform(0.35, 0.6)
    m = (np.abs(u) <= hl) & (np.abs(v) <= hw)
    if wing:
        m |= (u >= hl - wl) & (u <= hl) & (v >= -hw) & (v <= ext)
    near = (np.abs(u) <= hl + gap) & (v >= -hw - gap) & (v <= ext + gap)
    if (paved[sl] & near).any() or (label[near] == BUILDING).any() or not m.any():
        return
    if apron:  # paved yard/driveway around the house
        yard = (np.abs(u) <= hl + apron) & (v >= -hw - apron) & (v <= ext + apron) & ~m
        yard &= label == LOW_VEG
        img[yard], label[yard] = _PAVING + rng.normal(0, 10), IMPERVIOUS
    k = rng.choice(4, p=[0.3, 0.25, 0.3, 0.15])
    img[m], label[m], c.tex[sl][m] = _ROOFS[k] + rng.normal(0, 9, 3), BUILDING, 3
    if not is_big and k != 3:  # gable roof: two faces lit differently
        lit = np.where(wing & (u >= hl - wl) & (v > hw), u > hl - wl / 2, v > 0)
        c.shade[sl][m] = np.where(lit, 1.12, 0.88)[m]
    c.z[sl][m] = rng.uniform(12, 20) if is_big else rng.uniform(6, 14)


def _trees(c: _Canvas, segs: list[tuple]) -> float:
    """Clustered crowns (more in the countryside) and rows along roads; returns the sun azimuth."""
    rng, crowns = c.rng, []
    for _ in range(int(rng.integers(25, 40) * c.area) + 1):
        cy, cx = rng.uniform(0, c.h), rng.uniform(0, c.w)
        rural = not c.urban[int(cy), int(cx)]
        if c.label[int(cy), int(cx)] == BUILDING:
            continue
        n, sd = rng.integers(3, 25 if rural else 8), rng.uniform(8, 30 if rural else 14)
        crowns += [(y, x, rng.uniform(5, 13)) for y, x in rng.normal([cy, cx], sd, (n, 2))]
    for y0, x0, y1, x1, hw in segs:
        if rng.random() < 0.45:
            n = np.hypot(y1 - y0, x1 - x0)
            side = rng.choice([-1, 1])
            for t in np.arange(rng.uniform(0, 20), n, rng.uniform(14, 24)):
                off = side * (hw + rng.uniform(0, 4))
                y, x = y0 + (t * (y1 - y0) - off * (x1 - x0)) / n, x0 + (t * (x1 - x0) + off * (y1 - y0)) / n
                crowns.append((y, x, rng.uniform(4, 8)))
    sun = rng.uniform(0, 2 * np.pi)
    for cy, cx, r in crowns:
        win = _window(cy, cx, r * 1.25, c.h, c.w)
        if win is None:
            continue
        sl, u, v = win
        m, d = _blob(u, v, r, rng)
        dome = np.sqrt(np.clip(1 - d * d, 0, 1))
        # crowns are lit from the side opposite the cast shadows
        lit = 0.8 + 0.35 * dome - 0.15 * (v * np.sin(sun) + u * np.cos(sun)) / r
        c.img[sl][m] = _TREE + rng.normal(0, 8) + np.float32([rng.normal(0, 8), 0, 0])
        c.label[sl][m], c.shade[sl][m], c.tex[sl][m] = TREE, lit[m], 16
        c.z[sl] = np.where(m, np.maximum(c.z[sl], rng.uniform(5, 12) * dome), c.z[sl])
    return sun


def _car(c: _Canvas, cy: float, cx: float, theta: float) -> None:
    """One car centred at (cy, cx) heading theta, drawn only where it lies wholly on pavement."""
    rng = c.rng
    win = _window(cy, cx, 6, c.h, c.w, theta)
    if win is None:
        return
    sl, u, v = win
    hl, hw = rng.uniform(3.6, 4.6), rng.uniform(1.8, 2.3)
    m = (np.abs(u) <= hl) & (np.abs(v) <= hw)
    if not m.any() or (c.label[sl][m] != IMPERVIOUS).any():
        return
    c.img[sl][m] = _CARS[rng.integers(len(_CARS))] + rng.normal(0, 6)
    glass = m & (np.abs(v) < hw - 0.6) & (((u > 0.2 * hl) & (u < 0.6 * hl)) | (u < -0.55 * hl))
    c.label[sl][m], c.shade[sl][m], c.tex[sl][m] = CAR, 1.0, 2
    c.shade[sl][glass], c.z[sl][m] = 0.45, 1.5


def _cars(c: _Canvas, segs: list[tuple], plazas: list[tuple]) -> None:
    """Cars parked or driving along the road lanes (denser in town) and in rows on plazas."""
    rng = c.rng
    for y0, x0, y1, x1, hw in segs:
        n = np.hypot(y1 - y0, x1 - x0)
        theta = np.arctan2(y1 - y0, x1 - x0)
        for off in [-hw / 2, hw / 2] if hw > 5 else [0.0]:
            t = rng.uniform(0, 40)
            while t < n:
                cy = y0 + (t * (y1 - y0) - off * (x1 - x0)) / n
                cx = x0 + (t * (x1 - x0) + off * (y1 - y0)) / n
                _car(c, cy, cx, theta)
                busy = 0 <= cy < c.h and 0 <= cx < c.w and c.urban[int(cy), int(cx)]
                t += 11 + rng.exponential(25 if busy else 90)
    for cy, cx, hy, hx in plazas:
        for row in np.arange(-hy + 6, hy - 5, 13):
            for x in np.arange(-hx + 3, hx - 2, 6):
                if rng.random() < 0.6:
                    _car(c, cy + row, cx + x, np.pi / 2)


def _clutter(c: _Canvas, road: np.ndarray) -> None:
    """Construction sites of bare soil and scattered containers/heaps on open ground.

    Never on roads, roofs or crowns.
    """
    rng, h, w = c.rng, c.h, c.w
    items = [
        (*divmod(int(rng.choice(c.urban_idx)), w), rng.uniform(14, 28), True)
        for _ in range(int(rng.integers(2, 5) * c.area) + 1)
    ]
    items += [
        (rng.uniform(0, h), rng.uniform(0, w), rng.uniform(2, 5), False)
        for _ in range(int(rng.integers(200, 320) * c.area) + 3)
    ]
    palette = np.concatenate([_ROOFS, _ASPHALT[None], _CONTAINERS, _SOIL[None]])
    for cy, cx, r, site in items:
        win = _window(cy, cx, r * 1.3, h, w, rng.uniform(0, np.pi))
        if win is None:
            continue
        sl, u, v = win
        m = _blob(u, v, r, rng)[0] if site or rng.random() < 0.5 else (np.abs(u) < r * 1.4) & (np.abs(v) < r * 0.6)
        m &= ~road[sl] & ((c.label[sl] == LOW_VEG) | (c.label[sl] == IMPERVIOUS))
        colour = _SOIL if site else palette[rng.integers(len(palette))]
        c.img[sl][m] = colour + rng.normal(0, 10)
        c.label[sl][m], c.tex[sl][m], c.shade[sl][m] = CLUTTER, 14 if site else 5, 1.0
        c.z[sl][m] = 0.5 if site else rng.uniform(1, 3)


def _cast_shadows(c: _Canvas, sun: float) -> None:
    """Darken pixels where an object towards the sun rises above the sun ray; never the label."""
    k = c.rng.uniform(0.6, 1.0)  # shadow length in pixels per unit of height
    shadow, prev = np.zeros((c.h, c.w), bool), None
    for s in range(1, int(np.ceil(c.z.max() * k)) + 1):
        off = (int(round(s * np.sin(sun))), int(round(s * np.cos(sun))))
        if off != prev:
            shadow |= _shift(c.z, *off) - s / k > c.z + 0.5
            prev = off
    c.shade[shadow] *= c.rng.uniform(0.45, 0.6)


def _finish(c: _Canvas) -> np.ndarray:
    """Texture, illumination (global and per-band gain, slow gradient, haze) and sensor noise.

    Returns the (h, w, 3) uint8 image.
    """
    rng, h, w = c.rng, c.h, c.w
    grain = 0.6 * _smooth_noise(rng, h, w, 2) + 0.4 * rng.standard_normal((h, w), dtype=np.float32)
    img = c.img  # in place: a new array rounds one pixel in a million differently
    img += (c.tex * grain)[..., None]
    gain = rng.uniform(0.85, 1.15) * (1 + rng.uniform(-0.05, 0.05, 3))
    field = 1 + 0.06 * _smooth_noise(rng, h, w, 256)
    img = img * (c.shade * field)[..., None] * np.float32(gain) + np.float32(rng.uniform(-6, 6))
    img += rng.normal(0, rng.uniform(4, 8), img.shape).astype(np.float32)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)
