"""Segmentation models from segmentation-models-pytorch (smp), built from the ``model`` config."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import segmentation_models_pytorch as smp
import torch
from torch import nn

from weakseg.design.task import resolve_task
from weakseg.formats.model_record import ModelSpec
from weakseg.io.errors import WeaksegError

ARCHITECTURES = ("FPN", "Unet", "DeepLabV3Plus", "PSPNet", "ResNetConvLSTM")
#: Architectures that read T frames per sample (``sequence.length``).
SEQUENCE_ARCHITECTURES = ("ResNetConvLSTM",)


#: ImageNet per-band mean and std (fractions of 255), as used by torchvision's and smp's
#: ImageNet encoders; bands beyond three reuse them cyclically.
IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]


def pixel_values(fractions, channels: int) -> np.ndarray:
    """(channels,) float32 ``255 * fractions``, the per-band values repeated cyclically over the bands."""
    return np.resize(np.asarray(fractions, dtype=np.float32) * 255, channels)


class Normalization(nn.Module):
    """Per-band ``(x - 255 mean) / (255 std)`` of (B, C, H, W) pixel values (0-255), as float32.

    ``mean`` and ``std`` are fractions of 255 per band (ImageNet's by default, the statistics
    of smp's pretrained encoders); with more bands than values they repeat cyclically, within
    each of ``frames`` frames of ``C / frames`` bands. Part of
    the model, so uint8 batches travel to the device (a quarter of float32's bytes) and are
    normalised there. The float32 arithmetic equals numpy's, value for value.
    """

    def __init__(self, mean, std, channels: int, frames: int = 1):
        super().__init__()
        self.mean_fractions, self.std_fractions = [float(m) for m in mean], [float(s) for s in std]
        shape, bands = (1, channels, 1, 1), channels // frames
        mean = np.tile(pixel_values(mean, bands), frames).reshape(shape)
        std = np.tile(pixel_values(std, bands), frames).reshape(shape)
        # Not in the state_dict: the model record keeps the fractions, and weights stay portable.
        self.register_buffer("mean", torch.from_numpy(mean), persistent=False)
        self.register_buffer("std", torch.from_numpy(std), persistent=False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) uint8 or float pixel values -> (B, C, H, W) float32."""
        return (images.float() - self.mean) / self.std


class Segmenter(nn.Module):
    """An smp network behind its input normalisation: (B, C, H, W) pixels -> (B, K, H, W) logits.

    A binary network has one output channel, whose logit z becomes the class logits (0, z):
    ``softmax((0, z)) = (1 - sigmoid(z), sigmoid(z))``, so argmax is the 0.5 threshold on
    sigmoid(z), the label proportions of weak training are (1 - mean p, mean p), and everything
    written for K classes (confusion matrix, weak losses) applies unchanged; the network
    is trained with ``BCEWithLogitsLoss`` (:class:`weakseg.learn.losses.SegmentationLoss`).
    """

    def __init__(self, net: nn.Module, normalization: Normalization, binary: bool):
        super().__init__()
        self.normalize = normalization
        self.net = net
        self.binary = binary

    @property
    def mean_pixel(self) -> np.ndarray:
        """(C,) float32 pixel values that normalise to 0: what to pad images with."""
        return self.normalize.mean.flatten().cpu().numpy()

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) uint8 or float pixel values (0-255) -> (B, K, H, W) logits (K = 2 if binary)."""
        z = self.net(self.normalize(images))
        return torch.cat([torch.zeros_like(z), z], dim=1) if self.binary else z


def build_model(spec: ModelSpec) -> Segmenter:
    """A :class:`Segmenter`: (B, in_channels, H, W) pixel values to (B, n_classes, H, W) logits.

    Args:
        spec: architecture (one of :data:`ARCHITECTURES`), smp encoder name, bands and classes,
            task (a binary network has one output channel, see :func:`resolve_task`), input
            normalisation (fractions of 255 per band; None: ImageNet's, see
            :class:`Normalization`), T frames per sample (``in_channels`` is T x the bands per
            frame; T > 1 needs an architecture of :data:`SEQUENCE_ARCHITECTURES`) and
            ``encoder_weights``: None (random init), ``"imagenet"`` (downloaded by smp), or the
            path of a local encoder ``state_dict`` saved with ``torch.save``.

    Raises:
        WeaksegError: unknown architecture or encoder; frames that a model cannot read; ImageNet weights that cannot be
            downloaded (the message suggests ``null`` or a local weights path); a local weights
            file that is missing or does not fit the encoder.
    """
    arch, encoder, encoder_weights, frames = spec.arch, spec.encoder, spec.encoder_weights, spec.frames
    in_channels, n_classes = spec.in_channels, spec.n_classes
    mean = IMAGENET_MEAN if spec.mean is None else spec.mean
    std = IMAGENET_STD if spec.std is None else spec.std
    if arch not in ARCHITECTURES:
        raise WeaksegError(f"model.arch: {arch!r} is not one of {', '.join(ARCHITECTURES)}")
    local = encoder_weights not in (None, "imagenet")
    if local and not Path(encoder_weights).is_file():
        raise WeaksegError(
            f"model.encoder_weights: {encoder_weights!r} is neither null, 'imagenet' nor an existing file"
        )
    if (frames > 1 and arch not in SEQUENCE_ARCHITECTURES) or in_channels % frames:
        raise WeaksegError(
            f"sequence.length: {frames} frames of {in_channels} channels cannot feed model.arch {arch} "
            f"(T > 1 needs one of {', '.join(SEQUENCE_ARCHITECTURES)}, and channels a multiple of T)"
        )
    binary = resolve_task(spec.task, n_classes) == "binary"
    outputs = 1 if binary else n_classes
    bands = in_channels // frames
    model = _create(arch, encoder, "imagenet" if encoder_weights == "imagenet" else None, bands, outputs, frames)
    if local:
        _load_local_encoder(model, encoder_weights, encoder, outputs)
    return Segmenter(model, Normalization(mean, std, in_channels, frames), binary)


def _create(arch: str, encoder: str, weights: str | None, bands: int, n_classes: int, frames: int = 1) -> nn.Module:
    try:
        if arch == "ResNetConvLSTM":
            from weakseg.learn.sequence_model import ResNetConvLSTM

            return ResNetConvLSTM(encoder, weights, bands, frames, n_classes)
        return smp.create_model(
            arch, encoder_name=encoder, encoder_weights=weights, in_channels=bands, classes=n_classes
        )
    except KeyError as error:
        raise WeaksegError(f"model.encoder: {encoder!r} is not an smp encoder ({error})") from error
    except Exception as error:
        if weights != "imagenet":
            raise
        raise WeaksegError(
            f"model.encoder_weights: could not download ImageNet weights for encoder {encoder!r} "
            f"({type(error).__name__}: {str(error)[:200]}). If this machine is offline, set "
            "model.encoder_weights: null (train from scratch) or the path of a local encoder state_dict (.pth)"
        ) from error


def _load_local_encoder(model: nn.Module, path: str, encoder: str, n_classes: int) -> None:
    """Load a local encoder ``state_dict`` into ``model`` (in place).

    A file of 3-band weights (e.g. ImageNet's) that does not fit a model of other than 3 bands
    is adapted as smp adapts its own pretrained weights: loaded into a 3-band encoder, whose
    first convolution is then patched by
    ``EncoderMixin.set_in_channels(bands, pretrained=True)`` (weights repeated cyclically over
    the bands and scaled by 3 / bands).
    """
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, OSError, ValueError, pickle.UnpicklingError) as error:
        raise WeaksegError(f"model.encoder_weights: {path} is not a readable state_dict: {error}") from error
    try:
        model.encoder.load_state_dict(state)
        return
    except RuntimeError as error:
        if model.encoder._in_channels == 3:
            raise WeaksegError(f"model.encoder_weights: {path} does not fit encoder {encoder!r}: {error}") from error
    three_band = _create("FPN", encoder, None, 3, n_classes)
    try:
        three_band.encoder.load_state_dict(state)
    except RuntimeError as error:
        raise WeaksegError(f"model.encoder_weights: {path} does not fit encoder {encoder!r}: {error}") from error
    three_band.encoder.set_in_channels(model.encoder._in_channels, pretrained=True)
    model.encoder.load_state_dict(three_band.encoder.state_dict())
