"""The scoring protocol of a study: which labels, classes, split and unit its scores come from.

Written into every ``metrics.json`` (``protocol``) by the evaluate stage and shown as the
report's protocol card, so a number is never read without how it was made (ISPRS: trained on
the complete labels, scored on the eroded ones, with and without clutter, official test areas).
"""

from __future__ import annotations

from weakseg.design.experiment import scored_set


def protocol_card(config: dict, adapter) -> dict:
    """How the scores are made, for ``metrics.json`` and the report's protocol card.

    Args:
        config: the validated config; adapter: its dataset's
            :class:`~weakseg.datasets.base.DatasetAdapter` (passed in: formats sit below datasets).

    Returns:
        ``{"dataset", "training_labels", "scoring_labels", "classes", "also_scored_without",
        "scored_set", "split", "scoring"}``: the label set training and weak labels read and the
        one scored on (``"<dataset.labels> labels"`` / ``"<dataset.scoring_labels> labels"``,
        e.g. ``"eroded labels"``; ``"the dataset's labels"`` for a dataset with one label set),
        the class names, the classes the benchmark also reports scores without (ISPRS:
        clutter), the scored set, how it was drawn (the official split, or groups of the split
        stage), and whether whole scenes or tiles are scored.
    """
    dataset, split = config["dataset"], config["split"]
    training = f"{dataset['labels']} labels" if adapter.label_sets else "the dataset's labels"
    scoring = dataset.get("scoring_labels")
    drawn = f"drawn by split.group_by: {split['group_by']} (seeded)"
    return {
        "dataset": adapter.name,
        "training_labels": training,
        "scoring_labels": f"{scoring} labels" if scoring else training,
        "classes": list(adapter.class_names),
        "also_scored_without": list(adapter.scored_without),
        "scored_set": scored_set(config),
        "split": f"official: {adapter.official_test}" if split["use_official_test"] else drawn,
        "scoring": "whole scenes, sliding window" if config["evaluation"]["mode"] == "scenes" else "tiles",
    }
