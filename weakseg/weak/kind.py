"""The interface of a kind of weak label: how it is computed from a mask, trained on and shown."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod

import numpy as np

from weakseg.io.errors import WeaksegError

log = logging.getLogger(__name__)


class WeakKind(ABC):
    """One kind of weak label (a member of :data:`weakseg.weak.WEAK_KINDS`).

    A weak label is a row of D floats per tile, in ``weak_labels.csv``. Two functions define a kind:

    * :meth:`label` computes the labels from tiles' masks: the only code that reads a weak
      tile's mask, run once, by the ``weak_labels`` stage;
    * :meth:`loss` is the training signal between the model's logits for a batch of weak tiles
      and their labels. It imports torch itself, since the ``weak_labels`` stage runs without it.

    A *spatial* kind (points) has labels tied to pixels: :meth:`to_mask` renders a label as a
    sparse mask, which the training data augments together with the image, so the label moves
    with every flip or rotation; its :meth:`loss` then gets that (B, H, W) mask as ``target``.

    Options are the kind's section of the config (``weak_labels.<name>``, defaults in the
    schema): ``label_keys`` are those its labels depend on (the ``weak_labels`` stage's params);
    every option reaches the runs of the kind (their settings).

    Attributes:
        name: the value in ``experiment.weak_kinds`` and the ``weak_kind`` wildcard.
        title: how the report names the kind.
        losses: the values of the ``loss`` option (the first is the schema default), empty if
            the kind has one loss and no such option.
        label_keys: option keys the labels depend on.
        spatial: labels are pixel positions (see above).
        dense: the label is a whole weak mask per tile (:mod:`weakseg.weak.dense`), written by the
            ``weak_masks`` stage; ``weak_labels.csv`` then holds its class shares.
        draws: :meth:`label` draws from its generator (noise, sampling), so ``weak_labels.seed``
            is one of its label options.
        needs_pixel_loss: the weak loss alone teaches nothing (no label): only variants that
            also train on pixel labels in the same step (joint mode) use the kind.
        positive_control: the label holds all the information of the pixel labels (``all_pixels``):
            a method given it must close nearly all of the gap to ``full``, and the report says
            whether it did.
        has_label: the kind carries a label (False for ``unlabelled``: a method such as
            consistency then adds no weak loss of the kind).
        citation: where the kind and its loss come from, for the report.
    """

    name: str
    title: str
    losses: tuple[str, ...] = ()
    label_keys: tuple[str, ...] = ()
    spatial: bool = False
    dense: bool = False
    needs_pixel_loss: bool = False
    has_label: bool = True
    positive_control: bool = False
    draws: bool = False
    citation: str = ""

    def columns(self, class_names: tuple[str, ...] | list[str], options: dict) -> list[str]:
        """The D column names of the label in ``weak_labels.csv`` (default: one per class)."""
        return list(class_names)

    @abstractmethod
    def label(self, masks: np.ndarray, n_classes: int, options: dict, rng: np.random.Generator) -> np.ndarray:
        """Weak labels of masks.

        Args:
            masks: (N, H, W) uint8 class indices, 255 = ignore (may be a memory map).
            n_classes: K.
            options: the kind's options (``weak_labels.<name>``).
            rng: the stage's seeded generator (kinds with noise or sampling draw from it, in tile order).

        Returns:
            (N, D) float64.
        """

    @abstractmethod
    def loss(self, logits, target, options: dict):
        """Scalar tensor: the batch mean of the weak loss.

        Args:
            logits: (B, K, H, W) float tensor.
            target: (B, D) float32 labels, or for a spatial kind the (B, H, W) int64 mask of
                :meth:`to_mask` after augmentation.
            options: the kind's options.
        """

    def refine(self, probabilities: np.ndarray, label: np.ndarray, options: dict) -> np.ndarray:
        """A teacher's (K, H, W) float64 class probabilities on a tile, refined by its (D,) label (default: unchanged).

        Used by the ``pseudo_masks`` stage (:mod:`weakseg.methods.pseudo_masks`); pixels a
        spatial or dense label names are overridden there, not here (see :mod:`weakseg.weak.refine`).
        """
        return probabilities

    def to_mask(self, label: np.ndarray, height: int, width: int) -> np.ndarray:
        """(H, W) uint8 sparse mask of one tile's (D,) label, 255 where unlabelled (spatial kinds only)."""
        raise NotImplementedError(f"weak kind {self.name} is not spatial")

    def resolve_options(self, options: dict, class_names: tuple[str, ...], object_classes: tuple[str, ...]) -> dict:
        """The options with the dataset's facts filled in (default: unchanged).

        Args:
            class_names: the dataset's K classes; object_classes: those it counts as objects
                (``DatasetAdapter.object_classes``, e.g. ISPRS building and car).

        Raises:
            WeaksegError: an option naming a class the dataset lacks (see the kinds that override it).
        """
        return dict(options)

    def check_options(self, options: dict) -> None:
        """Refuse options the schema cannot judge (default: a ``loss`` outside :attr:`losses`).

        Raises:
            WeaksegError: naming ``weak_labels.<name>.<key>``, the value and the choices.
        """
        if self.losses and options.get("loss") not in self.losses:
            raise WeaksegError(
                f"weak_labels.{self.name}.loss: {options.get('loss')!r} is not a loss of weak kind {self.name} "
                f"({', '.join(self.losses)})"
            )

    def empty(self, labels: np.ndarray) -> np.ndarray:
        """(N,) bool: which of the (N, D) ``labels`` say nothing (default: every value 0, e.g. no class tagged)."""
        return ~np.any(labels != 0, axis=1)

    def check_labels(self, labels: np.ndarray, weak: np.ndarray, options: dict) -> None:
        """Refuse labels that cannot train anything; log how many weak tiles got an empty or the same label.

        Args:
            labels: (N, D) float64 from :meth:`label`.
            weak: (N,) bool, the tiles of the ``weak`` set (the only ones trained on these labels).
            options: the kind's options, named in the messages.

        Raises:
            WeaksegError: a non-finite value (an option that overflows, e.g. a tiny rounding step),
                or every weak tile's label empty (e.g. a presence threshold no class reaches),
                naming ``weak_labels.<name>`` and its options.
        """
        if labels.shape[1] == 0:  # a kind without labels (unlabelled) has nothing to check
            return
        chosen = {key: options[key] for key in self.label_keys if key in options}
        bad = ~np.isfinite(labels).all(axis=1)
        if bad.any():
            raise WeaksegError(
                f"weak_labels.{self.name}: {int(bad.sum())} of {len(labels)} tiles got non-finite labels (NaN or "
                f"infinite) with options {chosen}; an option is out of its useful range (see the schema's "
                "descriptions): change it and rerun"
            )
        rows = labels[weak]
        empty = self.empty(rows)
        if len(rows) and empty.all():
            raise WeaksegError(
                f"weak_labels.{self.name}: every one of the {len(rows)} weak tiles has an empty label with options "
                f"{chosen}, so the weak runs would train on nothing; loosen the option (e.g. a lower threshold)"
            )
        if empty.any():
            log.warning("%s: %d of %d weak tiles have an empty label (%s)", self.name, empty.sum(), len(rows), chosen)
        if len(rows) > 1 and (rows == rows[0]).all():
            log.warning(
                "%s: all %d weak tiles have the same label %s (%s): it carries only the class prior",
                self.name,
                len(rows),
                rows[0].tolist(),
                chosen,
            )
