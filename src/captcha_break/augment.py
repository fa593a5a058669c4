"""Augmentation for captchas, as batched tensor ops on the training device.

Small real data sets (a few thousand labeled images from one site) overfit quickly; these
perturbations are the ones a captcha may show anyway: a slightly different warp, scale or
position, blur, noise, contrast and colour, and bits of the image hidden by clutter. They
keep every character inside the image, so the label stays true.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .config import TrainConfig


@dataclass(frozen=True)
class AugmentConfig:
    rotate_degrees: float = 4.0
    shear: float = 0.3  # horizontal pixels per vertical pixel
    scale: tuple[float, float] = (0.9, 1.05)
    translate: float = 0.04  # of the image size
    perspective: float = 0.04
    blur_p: float = 0.2
    noise_std: float = 0.04
    contrast: float = 0.3
    brightness: float = 0.15
    erase_p: float = 0.3
    # Largest erased box width, as a share of the height: a character is about as wide as
    # the image is high, whatever the width, so a box never hides a whole one.
    erase_size: float = 0.16


# For a reused synthetic set: the captcha library already varies warps, colours and noise,
# so small extra variations are enough to make each epoch's copy of an image different.
LIGHT_AUGMENT = AugmentConfig(
    rotate_degrees=2.0,
    shear=0.1,
    scale=(0.95, 1.03),
    translate=0.03,
    perspective=0.02,
    blur_p=0.1,
    noise_std=0.02,
    contrast=0.15,
    brightness=0.1,
    erase_p=0.0,
)


def augmentation_for(config: TrainConfig) -> AugmentConfig | None:
    """ "auto": the full set for folders of real images; a light one where images are reused
    every epoch beside fresh ones (a synthetic set drawn once, or a labels file of real images
    beside synthetic captchas), so that reuse does not overfit; none for fresh captchas alone."""
    if config.augment == "off":
        return None
    if config.augment == "on" or config.data is not None:
        return AugmentConfig()
    return LIGHT_AUGMENT if config.pregenerate > 0 or config.pseudo_labels else None


def augment(images: torch.Tensor, config: AugmentConfig, generator: torch.Generator | None = None) -> torch.Tensor:
    """(B, C, H, W) in [0, 1] -> the same shape, each image perturbed independently."""
    x = _warp(images, config, generator)
    x = _blur(x, config.blur_p, generator)
    x = _photometric(x, config, generator)
    x = _erase(x, config, generator)
    return x.clamp_(0, 1)


def _rand(n: int, low: float, high: float, like: torch.Tensor, generator) -> torch.Tensor:
    return torch.rand(n, generator=generator, device="cpu").to(like.device, like.dtype) * (high - low) + low


def _warp(x: torch.Tensor, c: AugmentConfig, g) -> torch.Tensor:
    b, _, h, w = x.shape
    # The angle is capped so that the ends of a wide input move at most a tenth of its
    # height: a 4 degree turn of a 512x64 image would push its outer characters out.
    limit = min(c.rotate_degrees, math.degrees(math.atan(0.2 * h / w)))
    angle = _rand(b, -limit, limit, x, g) * math.pi / 180
    shear = _rand(b, -c.shear, c.shear, x, g)
    scale = _rand(b, c.scale[0], c.scale[1], x, g)
    tx, ty = (_rand(b, -c.translate, c.translate, x, g) * 2 for _ in range(2))
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    # The warp is drawn in pixels; affine_grid works in [-1, 1] on both axes, so the
    # off-diagonal terms are rescaled by the aspect ratio (else a wide image is sheared far more).
    aspect = h / w
    theta = torch.stack([torch.stack([cos, (shear - sin) * aspect, tx], 1), torch.stack([sin / aspect, cos, ty], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    # A mild perspective: the horizontal scale changes from top to bottom.
    tilt = _rand(b, -c.perspective, c.perspective, x, g).view(b, 1, 1)
    grid = torch.stack([grid[..., 0] * (1 + tilt * grid[..., 1]), grid[..., 1]], -1)
    # Out-of-image pixels take the border colour, close to the captcha's background.
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def _blur(x: torch.Tensor, p: float, g) -> torch.Tensor:
    pick = _rand(x.shape[0], 0, 1, x, g) < p
    if not pick.any():
        return x
    kernel = torch.tensor([0.25, 0.5, 0.25], device=x.device, dtype=x.dtype)
    kernel = (kernel[:, None] * kernel[None, :]).expand(x.shape[1], 1, 3, 3)
    blurred = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), kernel, groups=x.shape[1])
    return torch.where(pick.view(-1, 1, 1, 1), blurred, x)


def _photometric(x: torch.Tensor, c: AugmentConfig, g) -> torch.Tensor:
    b, ch = x.shape[:2]
    contrast = _rand(b, 1 - c.contrast, 1 + c.contrast, x, g).view(b, 1, 1, 1)
    brightness = _rand(b, -c.brightness, c.brightness, x, g).view(b, 1, 1, 1)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = (x - mean) * contrast + mean + brightness
    if ch == 3:  # a small colour shift per channel
        x = x + _rand(b * 3, -0.05, 0.05, x, g).view(b, 3, 1, 1)
    noise = torch.randn(x.shape, generator=g, device="cpu").to(x.device, x.dtype)
    return x + noise * _rand(b, 0, c.noise_std, x, g).view(b, 1, 1, 1)


def _erase(x: torch.Tensor, c: AugmentConfig, g) -> torch.Tensor:
    b, _, h, w = x.shape
    pick = _rand(b, 0, 1, x, g) < c.erase_p
    bw = (_rand(b, c.erase_size / 3, c.erase_size, x, g) * h).long().clamp(1, w)
    bh = (_rand(b, 0.1, 0.4, x, g) * h).long().clamp(min=1)
    x0 = (_rand(b, 0, 1, x, g) * (w - bw)).long()
    y0 = (_rand(b, 0, 1, x, g) * (h - bh)).long()
    cols = torch.arange(w, device=x.device).view(1, 1, w)
    rows = torch.arange(h, device=x.device).view(1, h, 1)
    inside = (
        (cols >= x0.view(b, 1, 1))
        & (cols < (x0 + bw).view(b, 1, 1))
        & (rows >= y0.view(b, 1, 1))
        & (rows < (y0 + bh).view(b, 1, 1))
    )
    mask = (inside & pick.view(b, 1, 1)).unsqueeze(1)  # (B, 1, H, W)
    fill = _rand(b, 0, 1, x, g).view(b, 1, 1, 1)  # a flat grey box: clutter, not a character
    return torch.where(mask, fill, x)


def preview(pixels, variants: int, config: AugmentConfig = AugmentConfig(), seed: int = 0):
    """uint8 (N, C, H, W) -> uint8 (N * (1 + variants), C, H, W): each image, then its variants.

    What `captcha-break plot augment` shows, to check the perturbations keep labels true.
    """
    generator = torch.Generator().manual_seed(seed)
    x = torch.from_numpy(pixels).float() / 255
    rows = [x] + [augment(x.clone(), config, generator) for _ in range(variants)]
    grid = torch.stack(rows, 1).flatten(0, 1)  # image-major: original, variant 1, ...
    return (grid * 255).round().to(torch.uint8).numpy()
