"""ResNetConvLSTM: a shared ResNet encoder on every frame, ConvLSTMs over time, an FPN decoder.

The encoder and decoder are smp's FPN (any smp encoder, ResNets by default). Each encoder
level but the input itself has a convolutional LSTM (Shi et al., 2015, "Convolutional LSTM
network: a machine learning approach for precipitation nowcasting", NeurIPS) that reads the
level's feature maps of frames 1..T in order (3 x 3 gates up to 128 channels, 1 x 1 deeper);
the decoder gets, per level, the last frame's features plus the LSTM's final hidden state,
and segments the last (annotated) frame. With T = 1 the LSTMs are skipped and the model is exactly the FPN.
"""

from __future__ import annotations

import segmentation_models_pytorch as smp
import torch
from torch import nn

#: Levels with at most this many channels get 3 x 3 gate convolutions, deeper ones 1 x 1.
SPATIAL_GATE_CHANNELS = 128


class ConvLSTMCell(nn.Module):
    """One ConvLSTM step, without peepholes: (x_t, (h, c)) -> (h_t, c_t), all (B, C, h, w).

    Gates ``i, f, o, g = conv([x_t, h])`` (one ``kernel_size`` convolution, 4C outputs);
    ``c_t = sigmoid(f) c + sigmoid(i) tanh(g)``, ``h_t = sigmoid(o) tanh(c_t)`` (Shi et al., 2015, eq. 3).
    """

    def __init__(self, channels: int, kernel_size: int = 3):
        super().__init__()
        self.gates = nn.Conv2d(2 * channels, 4 * channels, kernel_size, padding=kernel_size // 2)

    def forward(self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """One time step; returns the new ``(h, c)``."""
        h, c = state
        i, f, o, g = self.gates(torch.cat([x, h], dim=1)).chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c


class ResNetConvLSTM(nn.Module):
    """(B, T * C, H, W) normalised frames, oldest first -> (B, K, H, W) logits of the last frame.

    Args:
        encoder: an smp encoder name (``resnet18``, ``resnet34``, ...), shared by all frames.
        encoder_weights: None or ``"imagenet"`` (smp).
        bands: C, bands per frame.
        frames: T, frames per sample.
        classes: K output channels.

    H and W must be multiples of 32 (the encoder's output stride), as for smp's models.
    """

    def __init__(self, encoder: str, encoder_weights: str | None, bands: int, frames: int, classes: int):
        super().__init__()
        self.bands, self.frames = bands, frames
        self.fpn = smp.FPN(encoder_name=encoder, encoder_weights=encoder_weights, in_channels=bands, classes=classes)
        # Level 0 of an smp encoder is the input itself: nothing to remember there. Deep levels
        # (> 128 channels, stride 16 and 32) already see wide context, and a 3 x 3 gate
        # convolution on 512 channels alone would hold 19 M weights: theirs are 1 x 1.
        self.lstms = nn.ModuleList(
            ConvLSTMCell(channels, 3 if channels <= SPATIAL_GATE_CHANNELS else 1)
            for channels in self.fpn.encoder.out_channels[1:]
        )

    @property
    def encoder(self) -> nn.Module:
        """The shared frame encoder (smp), e.g. to load encoder weights into."""
        return self.fpn.encoder

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T * C, H, W) float -> (B, K, H, W) logits."""
        if self.frames == 1:
            return self.fpn.segmentation_head(self.fpn.decoder(self.fpn.encoder(x)))
        b, _, height, width = x.shape
        features = self.fpn.encoder(x.reshape(b * self.frames, self.bands, height, width))
        per_frame = [f.reshape(b, self.frames, *f.shape[1:]) for f in features]
        fused = [per_frame[0][:, -1]]
        for level, lstm in zip(per_frame[1:], self.lstms, strict=True):
            h = c = torch.zeros_like(level[:, 0])
            for t in range(self.frames):
                h, c = lstm(level[:, t], (h, c))
            fused.append(level[:, -1] + h)
        return self.fpn.segmentation_head(self.fpn.decoder(fused))
