"""Tools that work in a trained generator's latent space, for every family with a latent spec.

- ``interpolate``: strips between two latents, spherical (slerp) or linear.
- ``class_means``: the mean latent of the samples a classifier puts in each class; vector arithmetic is
  then sums and differences of them (Radford et al. 2016).
- ``project`` (GAN inversion): the latent whose sample matches a target image, found by gradient descent
  on a pixel loss plus, optionally, a perceptual loss (distance in a feature network's space: a shipped
  domain network or any ``nn.Module``), from random starts (the best of ``restarts`` kept) or from a
  ``LatentEncoder``'s guess (``train_encoder``: an image -> z network trained on generated pairs).
  StyleGAN projects into W (``space="w"``, one w for every layer) or W+ (one w per layer), starting from
  the tracked mean of w.
- ``inpaint``: semantic inpainting by latent optimisation (Yeh et al. 2017): the contextual loss (L1 on
  the known pixels, each weighted by the share of its neighbours that are missing) plus
  ``prior_weight`` times the family's generator loss on the critic's score of the sample (the paper's
  prior loss ``log(1 - D(G(z)))``; for the non-saturating objective ``-log D(G(z))``, which pushes the
  same way); the hole is filled from the generated image and pasted into the known pixels.
- ``fit_direction``/``walk``: an attribute direction (InterFaceGAN, Shen et al. 2020): latents labelled by a
  classifier's prediction of a class, a linear classifier fitted in latent space, and a walk along its
  unit normal with the classifier's probability of the class at each step.

Images are in [-1, 1] as the generators make them; PSNR is computed on that range (peak-to-peak 2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lit_gans.errors import ConfigError
from lit_gans.latent.spec import Latent, slerp


# ---------------------------------------------------------------------------------------------- helpers
def psnr(a: Tensor, b: Tensor, mask: Optional[Tensor] = None) -> Tensor:
    """PSNR in dB of images in [-1, 1] (peak-to-peak 2), one value per image; with ``mask`` (1 where
    counted, broadcast over channels) only inside it."""
    diff = (a.float() - b.float()) ** 2
    if mask is None:
        mse = diff.flatten(1).mean(1)
    else:
        weight = mask.float().expand_as(diff)
        mse = (diff * weight).flatten(1).sum(1) / weight.flatten(1).sum(1).clamp_min(1)
    return 10 * torch.log10(4.0 / mse.clamp_min(1e-12))


def _as_batch(images: Tensor, model: Any) -> Tensor:
    """(C, H, W) or (N, C, H, W) images as a batch on the model's device, checked against its data shape."""
    x = images[None] if images.dim() == 3 else images
    shape = tuple(getattr(model, "data_shape", ()))
    if x.dim() != 4 or (len(shape) == 3 and tuple(x.shape[1:]) != shape):
        raise ConfigError(f"images of shape {tuple(images.shape)} do not fit this {type(model).__name__}, which makes "
                          f"{shape} images; convert them to its channels and size first (lit-gans project does)")
    return x.to(model.device, torch.float32)


def _generator(model: Any, ema: bool) -> nn.Module:
    net = model.sampling_generator if ema else model.network("generator")
    return net.eval()


def _output(model: Any, images: Tensor) -> Tensor:
    return images.clamp(-1, 1) if getattr(model, "clamp_samples", False) else images


def _need_image_model(model: Any, tool: str) -> None:
    if len(tuple(getattr(model, "data_shape", ()))) != 3:
        raise ConfigError(f"{tool} works on image generators; {type(model).__name__} makes samples of shape "
                          f"{tuple(getattr(model, 'data_shape', ()))}")
    if getattr(model, "translates", False) or not hasattr(model, "latent_spec"):
        raise ConfigError(f"{tool} needs a generator from noise; {type(model).__name__} has no latent")


def _labels_for(model: Any, n: int, labels: Optional[Tensor | Sequence[int] | int]) -> Optional[Tensor]:
    k = model.latent_spec.num_classes
    if not k:
        if labels is not None:
            raise ConfigError(f"{type(model).__name__} is unconditional: leave labels out")
        return None
    if labels is None:
        raise ConfigError(f"{type(model).__name__} is class-conditional: say which class each image is (labels=)")
    labels = torch.as_tensor(labels, dtype=torch.long).reshape(-1)
    return (labels.expand(n) if labels.numel() == 1 else labels).to(model.device)


def _draws(model: Any, n: int, seed: int, labels: Optional[Tensor] = None) -> Latent:
    generator = torch.Generator().manual_seed(seed)
    latent = model.latent_spec.draw(n, generator=generator, labels=False).to(model.device)
    return latent.replace(labels=labels)


def _score_fn(classifier: Callable[[Tensor], Tensor]) -> Callable[[Tensor], Tensor]:
    return lambda x: classifier(x).float().softmax(1)


@torch.no_grad()
def _sample_batches(model: Any, latent: Latent, batch_size: int = 250) -> Tensor:
    return torch.cat([model.sample(len(latent[i:i + batch_size]), latent=latent[i:i + batch_size])
                      for i in range(0, len(latent), batch_size)])


# ---------------------------------------------------------------------------------------------- interpolation, arithmetic
@torch.no_grad()
def interpolate(model: Any, start: Latent, end: Latent, steps: int = 10, mode: str = "slerp") -> Tensor:
    """Samples along paths from each latent of ``start`` to the same row of ``end`` (z moves; codes and
    labels stay ``start``'s): ``(N * steps, ...)`` row-major. ``mode``: ``slerp`` (keeps a Gaussian z at
    its typical norm) or ``linear``."""
    if mode not in ("slerp", "linear"):
        raise ConfigError(f"interpolation mode {mode!r} is unknown; use 'slerp' or 'linear'")
    if steps < 2:
        raise ConfigError(f"steps={steps} must be at least 2 (the two ends)")
    if len(start) != len(end):
        raise ConfigError(f"start has {len(start)} latents and end {len(end)}; give as many of each")
    t = torch.linspace(0, 1, steps, device=start.z.device)
    if mode == "slerp":
        path = slerp(start.z, end.z.to(start.z), t)
    else:
        path = (1 - t)[None, :, None] * start.z[:, None] + t[None, :, None] * end.z.to(start.z)[:, None]
    keep = start[torch.arange(len(start), device=start.z.device).repeat_interleave(steps)]
    return model.sample(len(keep), latent=keep.replace(z=path.reshape(len(keep), -1)))


@torch.no_grad()
def class_means(model: Any, classifier: Callable[[Tensor], Tensor], n: int = 1000, seed: int = 0,
                batch_size: int = 250) -> dict[int, Latent]:
    """The mean latent of the samples ``classifier`` (images -> logits) labels as each class, over ``n``
    samples drawn from ``seed``: ``{class: Latent of one}`` for every class predicted at least once.
    Arithmetic on them (``means[a].z - means[b].z + means[c].z``) moves samples between classes."""
    _need_image_model(model, "class_means")
    latent = _draws(model, n, seed)
    if model.latent_spec.num_classes:
        latent = latent.replace(labels=torch.arange(n, device=model.device) % model.latent_spec.num_classes)
    predicted = torch.cat([classifier(x).argmax(1) for x in _sample_batches(model, latent, batch_size).split(batch_size)])
    means = {}
    for c in predicted.unique().tolist():
        members = latent[(predicted == c).nonzero().flatten()]
        means[int(c)] = members[:1].replace(z=members.z.mean(0, keepdim=True))
    return means


# ---------------------------------------------------------------------------------------------- projection
class LatentEncoder(nn.Module):
    """Image -> z: a small convolutional network (strided 4x4 convolutions down to 4x4, then a linear
    layer), trained on the generator's own (image, z) pairs by ``train_encoder`` to give projection a
    starting point."""

    def __init__(self, data_shape: Sequence[int], z_dim: int, width: int = 64):
        super().__init__()
        channels, size = int(data_shape[0]), int(data_shape[-1])
        layers: list[nn.Module] = []
        c_in, c_out, s = channels, width, size
        while s > 4:
            layers += [nn.Conv2d(c_in, c_out, 4, 2, 1), nn.LeakyReLU(0.2)]
            c_in, c_out, s = c_out, min(c_out * 2, 8 * width), s // 2
        self.features = nn.Sequential(*layers, nn.Flatten())
        self.head = nn.Linear(c_in * s * s, z_dim)
        self.data_shape, self.z_dim = tuple(data_shape), z_dim

    def forward(self, images: Tensor) -> Tensor:
        return self.head(self.features(images))


def train_encoder(model: Any, steps: int = 500, batch_size: int = 64, lr: float = 1e-3, width: int = 64, seed: int = 0,
                  ema: bool = True) -> LatentEncoder:
    """A ``LatentEncoder`` trained for ``steps`` batches to recover z from the generator's samples (mean
    squared error in z), on latents drawn from ``seed``."""
    _need_image_model(model, "train_encoder")
    spec = model.latent_spec
    encoder = LatentEncoder(model.data_shape, spec.z_dim, width).to(model.device)
    optimizer = torch.optim.Adam(encoder.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        latent = spec.draw(batch_size, generator=generator, labels=False).to(model.device)
        if spec.num_classes:
            latent = latent.replace(labels=torch.randint(spec.num_classes, (batch_size,), generator=generator).to(model.device))
        images = model.sample(batch_size, latent=latent, ema=ema)
        loss = F.mse_loss(encoder(images), latent.z)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return encoder.eval()


@dataclass
class ProjectionResult:
    """What ``project`` found: ``latent`` (z; for StyleGAN in W, ``ws`` holds the w per layer),
    ``image`` (its samples), ``losses`` (the loss per step, mean over the targets, of the kept start),
    ``psnr`` (dB per target), ``start_psnr`` (of the best starting latent, before optimisation) and
    ``psnr_steps`` (steps, targets): each step's best PSNR over the starts, before that step's update."""

    latent: Optional[Latent]
    image: Tensor
    losses: list[float]
    psnr: Tensor
    start_psnr: Tensor
    ws: Optional[Tensor] = None
    psnr_steps: Optional[Tensor] = None


def _perceptual(feature: Any) -> Optional[Callable[[Tensor], Tensor]]:
    if feature is None:
        return None
    if isinstance(feature, str):
        from lit_gans.metrics.domain import load_domain_network

        network = load_domain_network(feature)
        return network.features
    return feature


def project(model: Any, target: Tensor, steps: int = 300, lr: float = 0.05, restarts: int = 1,
            feature: Any = None, perceptual_weight: float = 0.0, encoder: Optional[nn.Module] = None,
            labels: Any = None, space: str = "z", seed: int = 0, ema: bool = True,
            step_callback: Optional[Callable[[int, float], None]] = None) -> ProjectionResult:
    """The latent whose sample matches ``target`` (C, H, W) or (N, C, H, W), by Adam on z (or on w for
    StyleGAN's ``space="w"``/``"w+"``) minimising the pixel MSE plus ``perceptual_weight`` times the
    squared distance of ``feature``'s features (a domain network's name such as ``"digits"``, or a
    module mapping images to features). Each target starts from ``restarts`` random latents (or, with
    ``encoder``, from its guess, plus ``restarts - 1`` random ones); the start with the lowest final
    loss is kept. ``labels``: the class of each target for a class-conditional model. The learning
    rate falls to 0 along a cosine over the steps."""
    _need_image_model(model, "project")
    if steps < 0 or restarts < 1:
        raise ConfigError(f"steps={steps} must be >= 0 and restarts={restarts} >= 1")
    if space not in ("z", "w", "w+"):
        raise ConfigError(f"space {space!r} is unknown; use 'z', or 'w'/'w+' for StyleGAN")
    target = _as_batch(target, model)
    n, spec, net = len(target), model.latent_spec, _generator(model, ema)
    was_grad = [p.requires_grad for p in net.parameters()]
    net.requires_grad_(False)
    features = _perceptual(feature) if perceptual_weight > 0 else None
    repeat = lambda x: x.repeat_interleave(restarts, 0) if x is not None else None  # noqa: E731
    targets = repeat(target)
    labels = repeat(_labels_for(model, n, labels))
    latent = _draws(model, n * restarts, seed, labels)
    if encoder is not None:
        with torch.no_grad():
            latent.z.view(n, restarts, -1)[:, 0] = encoder(target).to(latent.z)
    style = space != "z"
    if style:
        from lit_gans.nets.stylegan import is_style_based

        if not is_style_based(net):
            raise ConfigError(f"space={space!r} needs StyleGAN's mapping network; {type(model).__name__} projects in z")
        num_ws = net.synthesis.num_ws
        with torch.no_grad():  # the w of the random (or the encoder's) z; without an encoder the first start is w's mean
            start = net.mapping(spec.assemble(latent))[:, 0]
            if encoder is None:
                start.view(n, restarts, -1)[:, 0] = net.mapping.w_avg
        variable = (start[:, None].repeat(1, num_ws, 1) if space == "w+" else start).clone().requires_grad_(True)
        render = lambda v: net.synthesis(v if space == "w+" else v[:, None].repeat(1, num_ws, 1), noise_mode="const")  # noqa: E731
    else:
        variable = latent.z.clone().requires_grad_(True)
        render = lambda v: model.generate(latent.replace(z=v), net)  # noqa: E731
    target_features = features(targets).detach() if features is not None else None

    def losses_of(images: Tensor) -> Tensor:
        loss = (images - targets).pow(2).flatten(1).mean(1)
        if features is not None:
            loss = loss + perceptual_weight * (features(images) - target_features).pow(2).flatten(1).mean(1)
        return loss

    with torch.no_grad():
        start_images = _output(model, render(variable))
    optimizer = torch.optim.Adam([variable], lr=lr)
    history: list[float] = []
    curve: list[Tensor] = []
    for step in range(steps):
        for group in optimizer.param_groups:
            group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * step / max(steps, 1)))
        rendered = _output(model, render(variable))
        per_start = losses_of(rendered)
        curve.append(psnr(rendered.detach(), targets).view(n, restarts).max(1).values.cpu())
        optimizer.zero_grad(set_to_none=True)
        per_start.sum().backward()
        optimizer.step()
        best = per_start.detach().view(n, restarts).min(1).values.mean()
        history.append(float(best))
        if step_callback is not None:
            step_callback(step, history[-1])
    with torch.no_grad():
        images = _output(model, render(variable))
        final = losses_of(images).view(n, restarts)
        keep = final.argmin(1) + torch.arange(n, device=final.device) * restarts
    for p, g in zip(net.parameters(), was_grad):
        p.requires_grad_(g)
    kept = variable.detach()[keep]
    result_latent = None if style else latent[keep].replace(z=kept)
    ws = (kept if space == "w+" else kept[:, None].repeat(1, num_ws, 1)) if style else None
    start_scores = psnr(start_images, targets).view(n, restarts).max(1).values
    return ProjectionResult(result_latent, images[keep].detach(), history, psnr(images[keep], target).cpu(), start_scores.cpu(), ws,
                            torch.stack(curve) if curve else None)


# ---------------------------------------------------------------------------------------------- inpainting
def center_mask(shape: Sequence[int], fraction: float = 0.5) -> Tensor:
    """A mask (1, H, W) for images of ``shape`` (C, H, W) or (H, W): 1 on known pixels, 0 on a centred
    square hole of ``fraction`` of the side."""
    h, w = int(shape[-2]), int(shape[-1])
    if not 0 < fraction < 1:
        raise ConfigError(f"fraction={fraction} must be in (0, 1): the hole's share of the side")
    mask = torch.ones(1, h, w)
    hh, hw = max(1, round(h * fraction)), max(1, round(w * fraction))
    top, left = (h - hh) // 2, (w - hw) // 2
    mask[:, top:top + hh, left:left + hw] = 0
    return mask


def contextual_weights(mask: Tensor, window: int = 7) -> Tensor:
    """Yeh et al.'s weights: for a known pixel the share of the ``window`` x ``window`` pixels around it
    that are missing, 0 for a missing pixel; known pixels far from the hole weigh nothing."""
    if window < 1 or window % 2 == 0:
        raise ConfigError(f"window={window} must be an odd number >= 1")
    m = mask.float()
    m = m[None] if m.dim() == 3 else m
    missing = F.avg_pool2d(1 - m, window, stride=1, padding=window // 2, count_include_pad=False)
    return m * missing


@dataclass
class InpaintResult:
    """``filled``: the images with the hole filled from the generator and the known pixels kept;
    ``generated``: the whole generated images; ``latent`` the latents found; ``losses`` the loss per step
    (mean over images, of the kept start); ``psnr_hole`` PSNR inside the hole against ``reference``
    when one was given (else None)."""

    filled: Tensor
    generated: Tensor
    latent: Latent
    losses: list[float]
    psnr_hole: Optional[Tensor] = None
    context: list[float] = field(default_factory=list)
    prior: list[float] = field(default_factory=list)


def inpaint(model: Any, image: Tensor, mask: Tensor, steps: int = 300, lr: float = 0.05, prior_weight: float = 0.003,
            window: int = 7, restarts: int = 4, labels: Any = None, reference: Optional[Tensor] = None, seed: int = 0,
            ema: bool = True) -> InpaintResult:
    """Fill the pixels where ``mask`` is 0 (``mask`` (1, H, W) or (N, 1, H, W), 1 = known) of ``image``
    (C, H, W) or (N, C, H, W) by optimising z (Yeh et al. 2017; see the module's docstring):
    contextual loss ``|W * (G(z) - image)|_1`` with ``contextual_weights(mask, window)`` plus
    ``prior_weight`` times the generator loss of the critic's score of ``G(z)``; the best of
    ``restarts`` starts per image is kept. ``reference``: the true images, to report PSNR in the hole."""
    _need_image_model(model, "inpaint")
    if steps < 0 or restarts < 1 or prior_weight < 0:
        raise ConfigError(f"steps={steps} and prior_weight={prior_weight} must be >= 0 and restarts={restarts} >= 1")
    image = _as_batch(image, model)
    n = len(image)
    mask = (mask[None] if mask.dim() == 3 else mask).to(image).expand(n, 1, *image.shape[-2:])
    weights = contextual_weights(mask, window)
    if "critic" not in model.roles:  # GMMN: nothing judges the samples
        if prior_weight:
            raise ConfigError(f"{type(model).__name__} has no critic to score the prior term: set prior_weight=0 "
                              "(lit-gans inpaint --prior-weight 0) to fill from the context alone")
        net, critic = _generator(model, ema), nn.Identity()
    else:
        net, critic = _generator(model, ema), model.network("critic").eval()
    saved = [(p, p.requires_grad) for p in (*net.parameters(), *critic.parameters())]
    for p, _ in saved:
        p.requires_grad_(False)
    repeat = lambda x: x.repeat_interleave(restarts, 0) if x is not None else None  # noqa: E731
    images, w = repeat(image), repeat(weights)
    labels = repeat(_labels_for(model, n, labels))
    latent = _draws(model, n * restarts, seed, labels)
    z = latent.z.clone().requires_grad_(True)
    optimizer = torch.optim.Adam([z], lr=lr)
    was_training = model.training
    model.eval()  # no augmentation in the critic's judgement

    def losses_of(z_now: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        generated = _output(model, model.generate(latent.replace(z=z_now), net))
        context = (w * (generated - images)).abs().flatten(1).sum(1)
        prior = model.objective.g_terms(model.judge(generated, labels)[0]) if prior_weight else torch.zeros_like(context)
        return generated, context, prior

    history, context_history, prior_history = [], [], []
    try:
        for _ in range(steps):
            _, context, prior = losses_of(z)
            total = context + prior_weight * prior
            optimizer.zero_grad(set_to_none=True)
            total.sum().backward()
            optimizer.step()
            best = total.detach().view(n, restarts).argmin(1) + torch.arange(n, device=z.device) * restarts
            history.append(float(total.detach()[best].mean()))
            context_history.append(float(context.detach()[best].mean()))
            prior_history.append(float(prior.detach()[best].mean()))
        with torch.no_grad():
            generated, context, prior = losses_of(z)
            keep = (context + prior_weight * prior).view(n, restarts).argmin(1) + torch.arange(n, device=z.device) * restarts
    finally:
        model.train(was_training)
        for p, flag in saved:
            p.requires_grad_(flag)
    generated = generated[keep].detach()
    filled = mask * image + (1 - mask) * generated
    hole = None
    if reference is not None:
        hole = psnr(filled, _as_batch(reference, model), 1 - mask).cpu()
    return InpaintResult(filled, generated, latent[keep].replace(z=z.detach()[keep]), history, hole, context_history, prior_history)


# ---------------------------------------------------------------------------------------------- attribute directions
@dataclass
class AttributeDirection:
    """A direction in z along which ``classifier``'s probability of ``target_class`` rises: ``normal`` (unit
    vector), ``intercept`` of the linear boundary, ``accuracy`` of the boundary on held-out latents,
    ``positives`` the share of drawn latents whose sample was labelled ``target_class``."""

    normal: Tensor
    intercept: float
    accuracy: float
    positives: float
    target_class: int
    classifier: Callable[[Tensor], Tensor] = field(repr=False, default=None)


@torch.no_grad()
def fit_direction(model: Any, classifier: Callable[[Tensor], Tensor], target_class: int, n: int = 2000, seed: int = 0,
                  batch_size: int = 250) -> AttributeDirection:
    """InterFaceGAN's direction for "``classifier`` labels the sample ``target_class``": ``n`` latents from
    ``seed``, their samples labelled by ``classifier`` (images -> logits), a logistic regression on z
    (scikit-learn) fitted on 80 % of them and scored on the rest; the unit normal of its boundary."""
    from sklearn.linear_model import LogisticRegression

    _need_image_model(model, "fit_direction")
    latent = _draws(model, n, seed)
    if model.latent_spec.num_classes:
        raise ConfigError(f"{type(model).__name__} is class-conditional: its class is chosen by its label, not found in z")
    predicted = torch.cat([classifier(x).argmax(1) for x in _sample_batches(model, latent, batch_size).split(batch_size)])
    y = (predicted == target_class).cpu().numpy()
    share = float(y.mean())
    if y.all() or not y.any():
        raise ConfigError(f"class {target_class} is {'every' if y.all() else 'no'} sample's prediction among {n}: no boundary "
                          "to fit; choose another class or draw more samples")
    z = latent.z.cpu().double().numpy()
    split = int(0.8 * n)
    fitted = LogisticRegression(max_iter=2000).fit(z[:split], y[:split])
    accuracy = float(fitted.score(z[split:], y[split:])) if split < n else float("nan")
    coef = torch.as_tensor(fitted.coef_[0], dtype=torch.float32)
    norm = float(coef.norm())
    return AttributeDirection(coef / norm, float(fitted.intercept_[0]) / norm, accuracy, share, int(target_class), classifier)


@torch.no_grad()
def walk(model: Any, z: Tensor | Latent, direction: AttributeDirection, alphas: Sequence[float]) -> tuple[Tensor, Tensor]:
    """Samples at ``z + alpha * direction.normal`` for each alpha: images ``(N * len(alphas), ...)`` row-major
    and the classifier's probability of the direction's class, ``(N, len(alphas))``."""
    latent = z if isinstance(z, Latent) else Latent(torch.as_tensor(z, dtype=torch.float32))
    latent = latent.to(model.device)
    steps = torch.as_tensor(list(alphas), dtype=latent.z.dtype, device=latent.z.device)
    path = latent.z[:, None] + steps[None, :, None] * direction.normal.to(latent.z)[None, None]
    keep = latent[torch.arange(len(latent), device=latent.z.device).repeat_interleave(len(steps))]
    images = model.sample(len(keep), latent=keep.replace(z=path.reshape(len(keep), -1)))
    scores = _score_fn(direction.classifier)(images)[:, direction.target_class].view(len(latent), len(steps)).cpu()
    return images, scores


__all__ = ["AttributeDirection", "InpaintResult", "LatentEncoder", "ProjectionResult", "center_mask", "class_means",
           "contextual_weights", "fit_direction", "inpaint", "interpolate", "project", "psnr", "train_encoder", "walk"]
