"""The task type: binary (one logit, e.g. Figaro1k hair) or multiclass (softmax over K classes)."""

from __future__ import annotations

from weakseg.io.errors import WeaksegError

#: ``auto``: binary when the dataset has two classes (background and one foreground class).
TASKS = ("auto", "multiclass", "binary")


def resolve_task(task: str, n_classes: int) -> str:
    """``multiclass`` or ``binary`` for ``model.task`` and a dataset of ``n_classes`` classes.

    Raises:
        WeaksegError: an unknown task, or ``binary`` for a dataset without exactly two classes.
    """
    if task not in TASKS:
        raise WeaksegError(f"model.task: {task!r} is not one of {', '.join(TASKS)}")
    if task == "auto":
        return "binary" if n_classes == 2 else "multiclass"
    if task == "binary" and n_classes != 2:
        raise WeaksegError(f"model.task: binary needs a dataset with 2 classes, this one has {n_classes}")
    return task


def check_loss(kind: str, task: str) -> None:
    """Refuse the binary losses (``bce``, ``bce+dice``) for a ``multiclass`` task.

    Raises:
        WeaksegError: naming ``training.loss``.
    """
    if "bce" in kind and task != "binary":
        raise WeaksegError(f"training.loss: {kind!r} is for binary tasks (two classes); use cross_entropy")
