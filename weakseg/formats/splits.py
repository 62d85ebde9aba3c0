"""``splits.json``: the sets of the reference split, each pool tile's rank, counts and the settings used.

Written by the ``split`` stage (:mod:`weakseg.data.splitting` explains the ranks).
"""

from __future__ import annotations

import json
from pathlib import Path

from weakseg.design.experiment import HELD_OUT, POOL
from weakseg.formats.tiles import Tile
from weakseg.io.errors import WeaksegError


def read_splits(path: str | Path) -> dict[str, list[str]]:
    """The tile ids of each set (strong, weak, val, test) of the reference split in a ``splits.json``."""
    with open(path) as handle:
        sets = json.load(handle)["sets"]
    sets.setdefault("test", [])
    return sets


def pool_rows(sets: dict[str, list[str]], row_of: dict[str, int]) -> list[int]:
    """Sorted array rows of the pool's tiles (strong and weak sets): the tiles a run may train on."""
    return sorted(row_of[t] for name in POOL for t in sets[name])


def sets_at_fraction(splits: dict, fraction: float | str | None) -> dict[str, list[str]]:
    """The sets of ``splits.json`` with strong fraction ``fraction`` (a share of all tiles).

    ``strong``: pool tiles of rank below ``fraction * n_tiles``; ``weak``: the other pool
    tiles, less those that overlap a strong tile (so no pixel is in two sets);
    ``val`` and ``test`` as split. ``fraction`` None or ``"all"`` gives the whole pool as
    ``strong`` and an empty ``weak`` set (the upper bound). Ids in ``tiles.csv`` order.

    Raises:
        WeaksegError: the strong or weak set at that fraction would be empty.
    """
    pool = splits["pool"]
    base = {name: list(splits["sets"].get(name, [])) for name in HELD_OUT}
    if fraction in (None, "all"):
        return {"strong": list(pool), "weak": [], **base}
    bound = float(fraction) * splits["n_tiles"]
    strong = [t for t, rank in pool.items() if rank["rank"] < bound]
    touches = lambda rank: rank["neighbour_rank"] is not None and rank["neighbour_rank"] < bound  # noqa: E731
    weak = [t for t, rank in pool.items() if rank["rank"] >= bound and not touches(rank)]
    for name, ids in (("strong", strong), ("weak", weak)):
        if not ids:
            raise WeaksegError(
                f"split: at strong fraction {fraction} the {name} set is empty ({splits['n_tiles']} tiles in "
                f"{splits['n_groups']} groups); use a fraction nearer the middle of the strong + weak share, "
                "or more tiles"
            )
    return {"strong": strong, "weak": weak, **base}


def split_tile_ids(splits: dict) -> list[str]:
    """The tiles the split's fractions are shares of: the pool and the held-out sets of ``splits.json``.

    An official test set is left out (it is not split). Tiles dropped for overlap are counted in
    ``n_tiles`` but listed in no set.
    """
    held_out = [name for name in HELD_OUT if name != "test" or "n_official_test" not in splits]
    return [*splits["pool"], *(t for name in held_out for t in splits["sets"].get(name, []))]


def strong_share(splits: dict, strong: list[str]) -> float:
    """The realised share of strong tiles: ``len(strong) / n_tiles``, the denominator of the nominal fraction.

    ``n_tiles`` is the number of tiles the split divided (see :func:`sets_at_fraction`), so this
    is directly comparable with ``split.fractions.strong`` and ``experiment.strong_fractions``.
    """
    return len(strong) / max(splits["n_tiles"], 1)


def whole_scenes(
    tiles: list[Tile], sets: dict[str, list[str]], scored_set: str, needed_by: str = "evaluation.mode: scenes"
) -> list[str]:
    """The scenes of ``scored_set``, each of whose tiles must all be in that set.

    Args:
        needed_by: the config setting that asks for whole scenes, for the message.

    Raises:
        WeaksegError: a scene with tiles in the scored set and in another set (naming both
            and ``needed_by``).
    """
    set_of = {t: name for name, ids in sets.items() for t in ids}
    scored = sorted({t.scene for t in tiles if set_of.get(t.tile_id) == scored_set})
    for tile in tiles:
        other = set_of.get(tile.tile_id, scored_set)
        if tile.scene in scored and other != scored_set:
            raise WeaksegError(
                f"{needed_by} needs whole scenes in the {scored_set} set, but scene {tile.scene} also "
                f"has tiles in {other}; use split.group_by: scene (or split.use_official_test)"
            )
    return scored
