"""Batches from in-memory samples, one batcher per data domain."""

from __future__ import annotations

from ..errors import GankitError


class Batcher:
    """Batches from in-memory samples: a seeded permutation per epoch, augmentation as
    batched tensor ops on the device. Its state (generator, permutation, position) is
    part of the checkpoint, so a resumed run sees the same batches.

    Labelled data also give their labels (:meth:`next_labelled`), indexed with the same
    permutation and never augmented; ``balance`` draws each epoch's order with every class
    equally likely (with replacement) instead of a permutation."""

    def __init__(self, data, batch_size: int, device, seed: int, flip: bool, channels_last: bool,
                 balance: bool = False):
        import torch

        self.data = data
        self.n = len(data)
        self.batch_size = batch_size
        self.device = device
        self.flip = bool(flip and data.spec.kind == "image" and (data.meta or {}).get("flip", True))
        self.channels_last = channels_last and data.spec.kind == "image"
        self.gen = torch.Generator().manual_seed(int(seed) + 7919)
        samples = data.samples
        # small data sets live on the device; large ones are copied a batch at a time
        if device.type != "cpu" and samples.numel() * samples.element_size() < 1 << 30:
            samples = samples.to(device)
        elif device.type == "cuda":
            samples = samples.pin_memory()
        self.samples = samples
        labels = getattr(data, "labels", None) if getattr(data, "classes", None) else None
        self.labels = None
        self.weights = None
        if labels is not None:
            labels = labels.reshape(-1).to(torch.int64)
            self.labels = labels.to(samples.device)
            if balance:  # each sample weighted by 1 / (its class's size)
                counts = torch.bincount(labels, minlength=len(data.classes)).clamp(min=1)
                self.weights = (1.0 / counts.double())[labels]
        self.perm = self._order()
        self.pos = 0
        self.epoch = 0

    def _order(self):
        import torch

        if self.weights is not None:
            return torch.multinomial(self.weights, self.n, replacement=True, generator=self.gen)
        return torch.randperm(self.n, generator=self.gen)

    def next(self):
        """A float batch in [-1, 1] on the device."""
        return self._batch()[0]

    def next_labelled(self):
        """``(images, labels)``: the batch and its class indices (int64, on the device)."""
        if self.labels is None:
            raise GankitError("this data has no class labels")
        return self._batch()

    def _batch(self):
        import torch

        if self.pos + self.batch_size > self.n:
            self.perm = self._order()
            self.pos = 0
            self.epoch += 1
        idx = self.perm[self.pos:self.pos + self.batch_size]
        self.pos += self.batch_size
        flips = torch.rand(self.batch_size, generator=self.gen) < 0.5 if self.flip else None
        idx = idx.to(self.samples.device)
        x = self.samples[idx]
        x = x.to(self.device, non_blocking=True)
        y = None
        if self.labels is not None:  # the same indices; labels are never augmented
            y = self.labels[idx].to(self.device, non_blocking=True)
        if self.data.spec.kind != "image":
            return x.float(), y
        x = x.float().mul_(1 / 127.5).sub_(1.0)
        if flips is not None:
            m = flips.to(self.device, non_blocking=True).view(-1, 1, 1, 1)
            x = torch.where(m, x.flip(3), x)
        # the samples may be stored either way (loaders keep decoded NHWC memory as is)
        return x.contiguous(memory_format=torch.channels_last if self.channels_last
                            else torch.contiguous_format), y

    def state_dict(self) -> dict:
        return {"gen": self.gen.get_state(), "perm": self.perm.clone(), "pos": self.pos,
                "epoch": self.epoch}

    def load_state_dict(self, s: dict) -> None:
        import torch

        self.gen.set_state(s["gen"])
        perm = s["perm"].to(torch.int64)
        if perm.numel() != self.n:
            raise GankitError(
                f"the data set now has {self.n} samples but the checkpoint was made with "
                f"{perm.numel()}; resume with the same data or start a new run"
            )
        self.perm, self.pos, self.epoch = perm, int(s["pos"]), int(s["epoch"])
