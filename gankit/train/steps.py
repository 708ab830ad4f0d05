"""What a model's ``train_step`` may call on the trainer: batches, noise, the
discriminator call with the run's augmentation, gradient switches and optimizer steps;
and the run's EMA generators and augmentation themselves."""

from __future__ import annotations

from .. import engine
from ..augment import Augment
from ..ema import EMA
from ..models import scores_of


class StepHelpers:
    """The part of :class:`gankit.train.Trainer` a training step uses."""

    def _build_averages(self) -> None:
        """The EMA generator(s) and the augmentation before D, as the options say."""
        o = self.options
        self.ema = {}
        # on by default for unconditional models; other kinds (translation) keep one when
        # --ema asks for it
        if (o.ema or 0) > 0:
            self.ema = {k: EMA(self.nets[k], batch_size=self.batch_size * self.world_size,
                               half_life_kimg=o.ema)
                        for k in self.model.generator_nets if k in self.nets}
        self.augment = None
        if o.augment and o.augment != "none":
            p = o.augment_p if o.augment_p is not None else (0.0 if o.ada_target else 1.0)
            self.augment = Augment(o.augment, p, ada_target=o.ada_target, device=self.device)

    @property
    def eval_nets(self) -> dict:
        """The networks to sample with: the EMA copies in place of the generators."""
        return {**self.nets, **{k: e.module for k, e in self.ema.items()}}

    def discriminate(self, x, net: str = "D", real: bool = False, **kwargs):
        """``nets[net](x, **kwargs)`` after the run's augmentation (``--augment``), as every
        D call of a step should be made, real and generated alike. ``real=True`` marks
        real images: their scores drive the adaptive augmentation probability. What the
        network returns comes back whole: its scores, or a tuple whose first element or
        a dict whose ``"logits"`` entry holds them, beside other outputs."""
        if self.augment is None:
            return self.nets[net](x, **kwargs)
        out = self.nets[net](self.augment(x), **kwargs)
        if real and self.augment.adaptive:
            self.augment.accumulate(scores_of(out))
        return out

    # -- helpers for models' train_step ----------------------------------------------
    def next_batch(self, domain: str | None = None):
        """A float batch in [-1, 1] on the device, of the main data or of ``domain``."""
        return (self.batcher if domain is None else self.domains[domain]).next()

    def next_labelled_batch(self, domain: str | None = None):
        """``(images, labels)``: a batch as :meth:`next_batch` gives it and its class
        indices (int64 on the device, never augmented), for class-conditional models."""
        return (self.batcher if domain is None else self.domains[domain]).next_labelled()

    def next_batch_b(self):
        """The second domain's batch (translation models)."""
        return self.domains["B"].next()

    @property
    def batcher_b(self):
        return self.domains.get("B")

    @property
    def batchers(self) -> dict:
        """Batchers by their name in the checkpoint (``batcher``, ``batcher_b``...)."""
        return {("batcher" if i == 0 else f"batcher_{name.lower()}"): b
                for i, (name, b) in enumerate(self.domains.items())}

    def latent(self, n: int):
        return self.model.latent(self.config, n, device=self.device)

    def requires_grad(self, names, flag: bool) -> None:
        """Turn the weight gradients of network(s) ``names`` on or off, e.g. D's during the
        G step (gradients still flow through D to G). The parameter lists are cached:
        ``nn.Module.requires_grad_`` walks the module tree on every call, which costs
        about 5 % of a small MLP's step."""
        for n in (names,) if isinstance(names, str) else names:
            params = self._param_lists.get(n)
            if params is None:
                params = self._param_lists[n] = list(self.nets[n].parameters())
            for p in params:
                p.requires_grad_(flag)

    def backward_step(self, name, loss) -> None:
        """Zero the grads of optimizer ``name``, backprop ``loss``, step the optimizer.

        ``name`` may be a tuple of optimizer names: one backward pass of a loss shared by
        several networks (e.g. CycleGAN's two generators), then every optimizer steps.
        """
        opts = [self.opts[n] for n in ((name,) if isinstance(name, str) else name)]
        for opt in opts:
            opt.zero_grad(set_to_none=True)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self._sync_grads(opts)
            for opt in opts:
                self.scaler.step(opt)
            self.scaler.update()
        else:
            loss.backward()
            self._sync_grads(opts)
            for opt in opts:
                opt.step()

    def _sync_grads(self, opts) -> None:
        """Under torchrun, average the gradients of ``opts`` over the processes."""
        if self.world_size > 1:
            engine.all_reduce_mean_([p.grad for o in opts for g in o.param_groups
                                     for p in g["params"]])
