"""The pix2pix networks, data and step.

One step follows the reference ``optimize_parameters``: draw a batch of pairs (one
stacked image each, so the batcher's flip flips input and target alike), random-crop it
to the image size, translate the inputs, update ``D`` on (input, target) against
(input, output), then update ``G`` on the adversarial term plus ``lambda_l1`` times the
L1 distance to the targets, with ``D`` frozen.

Randomness lives in torch generators that are part of the checkpoint (the crop offsets)
next to the trainer's own (batch order, flips, dropout through the global RNG), so a
resumed run continues bit for bit.
"""

from __future__ import annotations

import torch

from gankit import Data, DataSpec, GankitError, RunState, call_g_loss
from gankit_cyclegan import unet_downs
from gankit_cyclegan.nets import PatchDiscriminator, UnetGenerator, init_weights
from gankit_cyclegan.train import ADV_SCALE, l1, random_crop

from . import data as paired

#: the reference halves the discriminator's objective ("we divide the objective by 2
#: while optimizing D"); gankit's lsgan d_loss is already the halved form
D_SCALE = {"lsgan": 1.0}


def build(config, spec) -> dict:
    c = spec.channels
    nets = {
        "G": UnetGenerator(c, c, config.ngf, unet_downs(spec.size), config.norm, config.dropout),
        # the conditional discriminator: input and output (or target) side by side in
        # the channels
        "D": PatchDiscriminator(2 * c, config.ndf, config.d_layers, config.norm),
    }
    for net in nets.values():
        net.apply(init_weights)
    return nets


def as_pairs(a, b, names, held, size: int, direction: str, label) -> Data:
    """The training pairs as one :class:`gankit.Data` of stacked images (input channels
    first), the held-out pairs in ``meta["pairs"]`` at the image size."""
    if direction == "BtoA":
        a, b = b, a
        label = (label[1], label[0])
        if held is not None:
            held = (held[1], held[0], held[2])
    n = int(a.shape[0])
    if held is None:
        if n < 3:
            raise GankitError(f"{n} pair(s): pix2pix needs at least 3 (one in ten, at least "
                              "one, is held out for evaluate and the previews)")
        idx = paired.held_out_indices(n, paired.DEFAULT_HELD_OUT)
        rest = [i for i in range(n) if i not in set(idx)]
        ha, hb, hnames = a[idx], b[idx], [names[i] for i in idx]
        a, b, names = a[rest], b[rest], [names[i] for i in rest]
    else:
        if n < 2:
            raise GankitError(f"{n} training pair: pix2pix needs at least 2")
        ha, hb, hnames = held
        if ha.shape[1] != a.shape[1]:
            raise GankitError("the held-out pairs (val/ or test/) and the training pairs "
                              "differ in channels (grayscale and colour)")
    c = int(a.shape[1])
    spec = DataSpec(kind="image", channels=c, size=size, name=f"{label[0]} -> {label[1]}")
    meta = {"pairs": {"input": paired.at_size(ha, size), "target": paired.at_size(hb, size),
                      "names": list(hnames)},
            "load_size": int(a.shape[-1]), "direction": direction}
    return Data(samples=paired.stack(a, b), spec=spec, names=list(names), meta=meta)


def held_out(data):
    """(input, target, names) of a pix2pix data's held-out pairs, uint8 at the image size."""
    p = (data.meta or {}).get("pairs")
    if not p:
        return None
    return p["input"], p["target"], p["names"]


class PairState(RunState):
    """What a pix2pix run keeps between steps: the crop generator and the preview pairs."""

    def __init__(self, trainer):
        loss = trainer.loss
        if loss is None:
            raise GankitError("pix2pix needs an adversarial loss (--loss bce)")
        if getattr(loss, "gp_weight", 0) or int(getattr(loss, "n_critic", 1)) != 1:
            raise GankitError(f"--loss {loss.name}: pix2pix takes one discriminator step per "
                              "step without a gradient penalty; use bce, lsgan or hinge")
        self.cfg = trainer.config
        self.size = trainer.spec.size
        self.c = trainer.spec.channels
        self.device = trainer.device
        seed = int(trainer.options.seed) + 1_000_003 * int(trainer.rank)
        self.crop_gen = torch.Generator().manual_seed(seed + 2_718_281)
        self.preview_a, self.preview_b = self._preview_pairs(trainer)

    def _preview_pairs(self, trainer):
        n = max(1, int(self.cfg.preview))
        pairs = held_out(trainer.data)
        if pairs is not None and pairs[0].shape[0]:
            a, b = pairs[0], pairs[1]
        else:
            s = paired.at_size(trainer.data.samples, self.size)
            a, b = s[:, :self.c], s[:, self.c:]
        k = min(n, a.shape[0])
        idx = torch.linspace(0, a.shape[0] - 1, k).round().long()
        return tuple(x[idx].to(self.device).float().div(127.5).sub(1.0) for x in (a, b))

    def step(self, t) -> dict:
        cfg, c = self.cfg, self.c
        G, D = t.nets["G"], t.nets["D"]
        name = getattr(t.loss, "name", "")
        x = random_crop(t.next_batch(), self.size, self.crop_gen).contiguous()
        real_a, real_b = x[:, :c], x[:, c:]
        with t.autocast():
            fake_b = G(real_a)

        # the discriminator: real pairs against (input, output)
        t.requires_grad("D", True)
        with t.autocast():
            real_scores = D(torch.cat([real_a, real_b], 1))
            fake_scores = D(torch.cat([real_a, fake_b.detach()], 1))
            loss_d = D_SCALE.get(name, 0.5) * t.loss.d_loss(real_scores, fake_scores)
        t.backward_step("D", loss_d)

        # the generator, with the discriminator frozen
        t.requires_grad("D", False)
        with t.autocast():
            adv = ADV_SCALE.get(name, 1.0) * call_g_loss(
                t.loss, D(torch.cat([real_a, fake_b], 1)), real_scores.detach())
            dist = cfg.lambda_l1 * l1(fake_b, real_b)
        t.backward_step("G", adv + dist)
        t.requires_grad("D", True)
        return {"loss_d": loss_d.detach(), "loss_g_gan": adv.detach(), "loss_l1": dist.detach()}

    def state_dict(self) -> dict:
        return {"crop_gen": self.crop_gen.get_state()}

    def load_state_dict(self, s: dict) -> None:
        if s and "crop_gen" in s:
            self.crop_gen.set_state(s["crop_gen"].to(torch.uint8))

    def preview(self, t):
        """Rows ``input | output | target`` for the fixed (held-out) pairs."""
        G = t.eval_nets["G"]
        was = G.training
        G.eval()
        try:
            with torch.no_grad(), t.autocast():
                out = G(self.preview_a)
        finally:
            G.train(was)
        rows = []
        for i in range(self.preview_a.shape[0]):
            rows += [self.preview_a[i].float().cpu(), out[i].float().cpu(),
                     self.preview_b[i].float().cpu()]
        u8 = ((torch.stack(rows).clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
        return u8, 3
