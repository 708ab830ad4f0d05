"""The CycleGAN step and what it keeps between steps.

One step follows the reference ``optimize_parameters``: draw one batch from each
domain independently (the trainer's two batchers, each with its own shuffled order and
flips), random-crop both to the image size, update both generators on

    adv(G_AB) + adv(G_BA) + cycle_A + cycle_B + identity_A + identity_B

with the discriminators frozen, then update both discriminators on real images against
generated ones drawn through an :class:`ImagePool` of 50.

Randomness lives in torch generators that are part of the checkpoint (crop offsets,
pool choices) next to the trainer's own (batch order, flips, global RNG), so a resumed
run continues bit for bit.
"""

from __future__ import annotations

import torch

from gankit import Data, DataSpec, GankitError, RunState

#: the generator's adversarial term is Zhu et al.'s MSE(D(G(x)), 1); gankit's lsgan
#: g_loss is half of that (Mao et al.'s form), so it is doubled to keep the paper's
#: balance with the cycle weight of 10. Other losses are used as they are.
ADV_SCALE = {"lsgan": 2.0}


# -- data ----------------------------------------------------------------------------------


def _resize_u8(samples, size: int):
    x = torch.nn.functional.interpolate(samples.float(), size=(size, size), mode="bilinear",
                                        antialias=True, align_corners=False)
    return x.round().clamp(0, 255).to(torch.uint8)


def as_domains(data_a, data_b, size: int, load_size: int, labels=("A", "B")):
    """Both domains as uint8 (N, C, load, load) with the same channels; their specs say
    ``size`` (the crop the networks see)."""
    out = []
    ch = max(data_a.spec.channels, data_b.spec.channels)
    for d, label in ((data_a, labels[0]), (data_b, labels[1])):
        s = d.samples
        if s.shape[-1] != load_size or s.shape[-2] != load_size:
            s = _resize_u8(s, load_size)
        if s.shape[1] != ch:
            if s.shape[1] != 1:
                raise GankitError(f"domain {label} has {s.shape[1]} channels and the other "
                                  f"{ch}; give both domains the same kind of images")
            s = s.expand(-1, ch, -1, -1)
        out.append(Data(samples=s.contiguous(),
                        spec=DataSpec(kind="image", channels=ch, size=size, name=label),
                        names=list(d.names), meta={**d.meta, "load_size": load_size}))
    a, b = out
    a.spec = DataSpec(kind="image", channels=ch, size=size, name=f"{labels[0]} -> {labels[1]}")
    return a, b


def center_crop(x, size: int):
    h, w = x.shape[-2:]
    top, left = (h - size) // 2, (w - size) // 2
    return x[..., top:top + size, left:left + size]


def random_crop(x, size: int, gen: torch.Generator):
    """Each image of (N, C, H, W) cropped to size x size at offsets drawn from ``gen``
    (a CPU generator), as one gather. The result is channels-last in memory."""
    n, _, h, w = x.shape
    oy = torch.randint(0, h - size + 1, (n,), generator=gen)
    ox = torch.randint(0, w - size + 1, (n,), generator=gen)
    if h == size and w == size:
        return x
    ar = torch.arange(size)
    rows = (oy[:, None] + ar).to(x.device)
    cols = (ox[:, None] + ar).to(x.device)
    idx = torch.arange(n, device=x.device)[:, None, None]
    return x[idx, :, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)


# -- the image pool -----------------------------------------------------------------------


class ImagePool:
    """Shrivastava et al.'s history of generated images, as in the reference code.

    The first ``size`` images are stored and returned as they are; after that each new
    image is, with probability 1/2, swapped with a random stored one (the stored one is
    returned), else returned as it is.
    """

    def __init__(self, size: int, gen: torch.Generator):
        self.size = int(size)
        self.gen = gen
        self.images: list = []

    def query(self, images):
        if self.size == 0:
            return images
        out = []
        for img in images.detach().split(1):
            if len(self.images) < self.size:
                self.images.append(img)
                out.append(img)
            elif torch.rand((), generator=self.gen).item() > 0.5:  # a CPU generator: no sync
                i = int(torch.randint(0, self.size, (), generator=self.gen))
                out.append(self.images[i])
                self.images[i] = img
            else:
                out.append(img)
        return torch.cat(out)

    def state_dict(self) -> dict:
        return {"images": torch.cat(self.images) if self.images else None}

    def load_state_dict(self, s: dict, device) -> None:
        imgs = s.get("images")
        self.images = [] if imgs is None else list(imgs.to(device).split(1))


# -- losses ----------------------------------------------------------------------------------


def l1(a, b):
    return (a.float() - b.float()).abs().mean()


def generator_losses(nets: dict, real_a, real_b, loss, lambda_cycle: float = 10.0,
                     lambda_identity: float = 0.5) -> dict:
    """The generators' objective (Zhu et al. eq. 3 plus the identity term of section 5.2).

    Returns the scalar terms (``adv_ab``, ``adv_ba``, ``cycle_a``, ``cycle_b``,
    ``idt_a``, ``idt_b``, ``total``) and the translations ``fake_a``, ``fake_b``.
    ``cycle_a = lambda_cycle * |G_BA(G_AB(a)) - a|_1``; ``idt_a = lambda_cycle *
    lambda_identity * |G_BA(a) - a|_1`` (G_BA must leave images of A alone).
    """
    G_AB, G_BA, D_A, D_B = nets["G_AB"], nets["G_BA"], nets["D_A"], nets["D_B"]
    scale = ADV_SCALE.get(getattr(loss, "name", ""), 1.0)
    fake_b = G_AB(real_a)
    rec_a = G_BA(fake_b)
    fake_a = G_BA(real_b)
    rec_b = G_AB(fake_a)
    t = {
        "adv_ab": scale * loss.g_loss(D_B(fake_b)),
        "adv_ba": scale * loss.g_loss(D_A(fake_a)),
        "cycle_a": lambda_cycle * l1(rec_a, real_a),
        "cycle_b": lambda_cycle * l1(rec_b, real_b),
    }
    if lambda_identity > 0:
        w = lambda_cycle * lambda_identity
        t["idt_a"] = w * l1(G_BA(real_a), real_a)
        t["idt_b"] = w * l1(G_AB(real_b), real_b)
    else:
        zero = t["cycle_a"].new_zeros(())
        t["idt_a"] = t["idt_b"] = zero
    t["total"] = sum(t[k] for k in ("adv_ab", "adv_ba", "cycle_a", "cycle_b", "idt_a", "idt_b"))
    t["fake_a"], t["fake_b"] = fake_a, fake_b
    return t


# -- per-run state ------------------------------------------------------------------------------


class CycleState(RunState):
    """What a CycleGAN run keeps between steps: pools, generators, preview images."""

    def __init__(self, trainer):
        cfg = trainer.config
        self.cfg = cfg
        self.size = trainer.spec.size
        self.device = trainer.device
        self.channels_last = bool(trainer.channels_last)
        # under torchrun each process crops and pools with its own stream
        seed = int(trainer.options.seed) + 1_000_003 * int(trainer.rank)
        self.crop_gen = torch.Generator().manual_seed(seed + 2_718_281)
        self.pool_gen = torch.Generator().manual_seed(seed + 3_141_592)
        self.pool_a = ImagePool(cfg.pool_size, self.pool_gen)
        self.pool_b = ImagePool(cfg.pool_size, self.pool_gen)
        self.preview_a, self.preview_b = self._preview_images(trainer)

    def _preview_images(self, trainer):
        n = max(1, int(self.cfg.preview))
        test = (trainer.data.meta or {}).get("preview") or (None, None)
        out = []
        for data, test_data in ((trainer.data, test[0]), (trainer.data_b, test[1])):
            src = test_data if test_data is not None else data
            s = src.samples
            k = min(n, s.shape[0])
            idx = torch.linspace(0, s.shape[0] - 1, k).round().long()
            x = s[idx.to(s.device)]
            if x.shape[1] != trainer.spec.channels:
                x = x.expand(-1, trainer.spec.channels, -1, -1)
            if x.shape[-1] != self.size:
                x = (center_crop(x, self.size) if x.shape[-1] > self.size
                     else _resize_u8(x, self.size))
            out.append(x.to(self.device).float().div(127.5).sub(1.0))
        return out

    def _fmt(self, x):
        if self.channels_last:
            return x.contiguous(memory_format=torch.channels_last)
        return x.contiguous()

    def step(self, t) -> dict:
        if t.loss is None:
            raise GankitError("cyclegan needs an adversarial loss (--loss lsgan)")
        cfg, nets = self.cfg, t.nets
        real_a = self._fmt(random_crop(t.next_batch(), self.size, self.crop_gen))
        real_b = self._fmt(random_crop(t.next_batch("B"), self.size, self.crop_gen))
        D_A, D_B = nets["D_A"], nets["D_B"]

        # generators, with the discriminators frozen
        t.requires_grad(("D_A", "D_B"), False)
        with t.autocast():
            g = generator_losses(nets, real_a, real_b, t.loss, cfg.lambda_cycle,
                                 cfg.lambda_identity)
        t.backward_step(("G_AB", "G_BA"), g["total"])
        t.requires_grad(("D_A", "D_B"), True)

        # discriminators, on generated images drawn through the pools
        fake_a = self._fmt(self.pool_a.query(g["fake_a"]))
        fake_b = self._fmt(self.pool_b.query(g["fake_b"]))
        with t.autocast():
            loss_d_a = t.loss.d_loss(D_A(real_a), D_A(fake_a))
            loss_d_b = t.loss.d_loss(D_B(real_b), D_B(fake_b))
        t.backward_step(("D_A", "D_B"), loss_d_a + loss_d_b)
        return {
            "loss_d_a": loss_d_a.detach(),
            "loss_d_b": loss_d_b.detach(),
            "loss_g_ab": g["adv_ab"].detach(),
            "loss_g_ba": g["adv_ba"].detach(),
            "loss_cycle": (g["cycle_a"] + g["cycle_b"]).detach(),
            "loss_idt": (g["idt_a"] + g["idt_b"]).detach(),
        }

    def state_dict(self) -> dict:
        return {"pool_a": self.pool_a.state_dict(), "pool_b": self.pool_b.state_dict(),
                "pool_gen": self.pool_gen.get_state(), "crop_gen": self.crop_gen.get_state()}

    def check_state(self, s: dict) -> None:
        """Before a resume (shapes from the file's header): the pools hold images of this
        run, [N, C, size, size]."""
        want = tuple(self.preview_a.shape[1:])
        for key in ("pool_a", "pool_b"):
            imgs = (s.get(key) or {}).get("images")
            if imgs is not None and tuple(imgs.shape[1:]) != want:
                raise ValueError(f"tensor '{imgs.name}' has shape {list(imgs.shape)}, the "
                                 f"pool holds images of [N, {', '.join(map(str, want))}]")

    def load_state_dict(self, s: dict) -> None:
        if not s:
            return
        self.pool_a.load_state_dict(s.get("pool_a") or {}, self.device)
        self.pool_b.load_state_dict(s.get("pool_b") or {}, self.device)
        if "pool_gen" in s:
            self.pool_gen.set_state(s["pool_gen"].to(torch.uint8))
        if "crop_gen" in s:
            self.crop_gen.set_state(s["crop_gen"].to(torch.uint8))

    def preview(self, t):
        """Rows ``A | A->B | A->B->A`` for the fixed A images, then ``B | B->A | B->A->B``."""
        nets = t.nets
        G_AB, G_BA = nets["G_AB"], nets["G_BA"]
        was = {k: n.training for k, n in nets.items()}
        for n in nets.values():
            n.eval()
        try:
            with torch.no_grad(), t.autocast():
                a, b = self._fmt(self.preview_a), self._fmt(self.preview_b)
                ab = G_AB(a)
                aba = G_BA(ab)
                ba = G_BA(b)
                bab = G_AB(ba)
        finally:
            for k, n in nets.items():
                n.train(was[k])
        rows = []
        for trio in ((a, ab, aba), (b, ba, bab)):
            x, y, z = (v.float().cpu() for v in trio)
            for i in range(x.shape[0]):
                rows += [x[i], y[i], z[i]]
        images = torch.stack(rows)
        u8 = ((images.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
        return u8, 3
