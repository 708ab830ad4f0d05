"""The adversarial loss contract.

A :class:`Loss` turns discriminator outputs into the two players' losses. The
discriminator always returns raw scores (logits); a loss that needs probabilities
applies the sigmoid itself, numerically stably. A loss declares what the trainer must
do for it, and the built-in unconditional step honours every declaration:

- ``n_critic``: discriminator (critic) updates per generator update;
- ``gp_weight``: weight of the gradient penalty returned by :meth:`Loss.penalty`;
- ``batchnorm_ok``: False when the critic must not use batch norm (a per-sample
  gradient penalty is meaningless across a batch-normalised batch): models then
  build their critic with layer or instance norm;
- ``optimizer``: defaults for Adam (``lr``, ``betas``) used unless the user sets them.
"""

from __future__ import annotations


class Loss:
    name: str = ""
    summary: str = ""
    n_critic: int = 1
    gp_weight: float = 0.0
    batchnorm_ok: bool = True
    optimizer: dict = {}

    def d_loss(self, real_scores, fake_scores):
        """Discriminator loss from its scores on real and on generated samples."""
        raise NotImplementedError

    def g_loss(self, fake_scores):
        """Generator loss from the discriminator's scores on generated samples."""
        raise NotImplementedError

    def penalty(self, critic, real, fake):
        """Extra discriminator term (e.g. a gradient penalty), already unweighted."""
        raise NotImplementedError

    def describe(self) -> dict:
        return {
            "name": self.name,
            "summary": self.summary,
            "n_critic": self.n_critic,
            "gp_weight": self.gp_weight,
            "batchnorm_ok": self.batchnorm_ok,
            "optimizer": dict(self.optimizer),
            "plugin": getattr(self, "plugin", None),
        }
