"""``model.pt``: a trained model's weights and the :class:`ModelSpec` that rebuilds it.

The record is a dict saved with ``torch.save``: ``state_dict``, ``spec`` (a :class:`ModelSpec` as
a dict), ``epoch``, ``val_miou``, ``settings`` (the run's), and after publication ``selected``,
``best_epoch``, ``last_epoch``. Records written before ``spec`` existed (keys ``model``,
``in_channels``, ``class_names``, ``normalization``) are read too.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class ModelSpec:
    """What builds a model and what it predicts.

    Attributes:
        arch: one of :data:`weakseg.learn.models.ARCHITECTURES`; encoder: an smp encoder name.
        in_channels: input channels C (frames x bands per frame).
        class_names: the K classes of the output, in index order.
        task: ``auto`` | ``multiclass`` | ``binary`` (:func:`weakseg.design.task.resolve_task`).
        mean, std: input normalisation per band, fractions of 255; None: ImageNet's.
        frames: T, frames per sample.
        encoder_weights: where the encoder starts when the model is first built (None: random,
            ``imagenet``, or a local state_dict path); a rebuilt model takes its weights from
            its record instead.
    """

    arch: str
    encoder: str
    in_channels: int
    class_names: tuple[str, ...]
    task: str = "auto"
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    frames: int = 1
    encoder_weights: str | None = None

    def __post_init__(self):
        # JSON and torch.load give lists; the spec is hashable and compares by value.
        object.__setattr__(self, "class_names", tuple(self.class_names))
        for name in ("mean", "std"):
            value = getattr(self, name)
            object.__setattr__(self, name, None if value is None else tuple(float(v) for v in value))

    @property
    def n_classes(self) -> int:
        """K."""
        return len(self.class_names)

    def describe(self) -> str:
        """One line: architecture, encoder, bands and classes."""
        return f"{self.arch}/{self.encoder} with {self.in_channels} input bands and {self.n_classes} classes"

    def as_record(self) -> dict:
        """The spec as the ``spec`` entry of a record, without the starting weights (they are in the record)."""
        return {**asdict(self), "encoder_weights": None, "class_names": list(self.class_names)}

    @classmethod
    def from_record(cls, record: dict) -> ModelSpec:
        """The spec of a ``model.pt`` record (either layout, see the module docstring).

        Raises:
            KeyError: the record has neither layout.
        """
        if "spec" in record:
            return cls(**record["spec"])
        model, normalization = record["model"], record.get("normalization", {})
        return cls(
            arch=model["arch"],
            encoder=model["encoder"],
            in_channels=record["in_channels"],
            class_names=record["class_names"],
            task=model.get("task", "auto"),
            mean=normalization.get("mean"),
            std=normalization.get("std"),
            frames=model.get("frames", 1),
        )
