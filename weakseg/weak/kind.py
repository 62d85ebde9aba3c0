"""The interface of a kind of weak label: how it is computed, pooled, trained on, scored and shown."""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np


class WeakKind(ABC):
    """One kind of weak label (a member of :data:`weakseg.weak.WEAK_KINDS`).

    A weak label is a row of D floats per tile. Four functions define a kind:

    * :meth:`label` computes it from a tile's mask: the only code that reads a weak tile's
      mask, run once, by the ``weak_labels`` stage;
    * :meth:`pool` turns the model's output for a tile into something comparable with it;
    * :meth:`loss` is the training signal between the pooled output and the label;
    * :meth:`error` is the validation error per tile and column.

    ``pool``, ``loss`` and ``error`` take and return torch tensors; they import torch
    themselves, since the ``weak_labels`` stage (which only calls :meth:`label`) runs without it.

    Attributes:
        name: the value of ``experiment.weak_kind``.
        title: how the report names the kind.
        losses: the values ``pretraining.loss`` may take for it (the first is the default).
        error_name: what :meth:`error` measures, as the report's column header.
    """

    name: str
    title: str
    losses: tuple[str, ...]
    error_name: str

    def columns(self, class_names: tuple[str, ...] | list[str]) -> list[str]:
        """The D column names of the label in ``weak_labels.csv`` (default: one per class)."""
        return list(class_names)

    @abstractmethod
    def label(self, masks: np.ndarray, n_classes: int) -> np.ndarray:
        """Weak labels of masks.

        Args:
            masks: (N, H, W) uint8 class indices, 255 = ignore (may be a memory map).
            n_classes: K.

        Returns:
            (N, D) float64.
        """

    @abstractmethod
    def pool(self, logits):
        """(B, K, H, W) float logits -> (B, D) float32, comparable with the label."""

    @abstractmethod
    def loss(self, pooled, target, loss_name: str):
        """Scalar tensor: the batch mean of ``loss_name`` between (B, D) ``pooled`` and ``target``.

        Raises:
            WeaksegError: ``loss_name`` is not one of :attr:`losses`.
        """

    @abstractmethod
    def error(self, pooled, target):
        """(B, D) float: the validation error of each tile and column (averaged by the caller)."""
