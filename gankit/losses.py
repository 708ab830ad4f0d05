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

The generator loss may take the discriminator's scores on real samples as a second,
optional parameter, ``g_loss(fake_scores, real_scores=None)`` (relativistic losses need
them). Losses written for gankit 0.1 take ``g_loss(fake_scores)`` only; callers go
through :func:`call_g_loss` (or :meth:`Loss.generator_loss`), which looks at the
signature once per class and passes the real scores only to losses that accept them.
"""

from __future__ import annotations

import inspect

_HOW: dict[type, str] = {}  # class -> "" (fake only), "positional" or "keyword"


def _how(loss) -> str:
    cls = type(loss)
    how = _HOW.get(cls)
    if how is None:
        try:
            params = list(inspect.signature(loss.g_loss).parameters.values())
        except (TypeError, ValueError):  # a builtin or C callable: call it the old way
            params = []
        positional = [p for p in params
                      if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        named = {p.name: p for p in params}
        if len(positional) >= 2 or any(p.kind == p.VAR_POSITIONAL for p in params):
            how = "positional"
        elif "real_scores" in named or any(p.kind == p.VAR_KEYWORD for p in params):
            how = "keyword"
        else:
            how = ""
        _HOW[cls] = how
    return how


def wants_real_scores(loss) -> bool:
    """True when ``loss.g_loss`` accepts the real scores (a second positional parameter,
    a ``real_scores`` keyword, ``*args`` or ``**kwargs``). Inspected once per class."""
    return bool(_how(loss))


def call_g_loss(loss, fake_scores, real_scores=None):
    """``loss.g_loss(fake_scores, real_scores)`` for losses that take the real scores,
    ``loss.g_loss(fake_scores)`` for one-argument (gankit 0.1) losses."""
    how = _how(loss) if real_scores is not None else ""
    if how == "positional":
        return loss.g_loss(fake_scores, real_scores)
    if how == "keyword":
        return loss.g_loss(fake_scores, real_scores=real_scores)
    return loss.g_loss(fake_scores)


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

    def g_loss(self, fake_scores, real_scores=None):
        """Generator loss from the discriminator's scores on generated samples.

        ``real_scores`` (optional parameter; omit it when the loss does not need it) are
        the discriminator's scores on a real batch, computed without gradients by the
        current discriminator; None when the caller has none.
        """
        raise NotImplementedError

    def generator_loss(self, fake_scores, real_scores=None):
        """Call :meth:`g_loss` with the real scores if it accepts them (see
        :func:`call_g_loss`); what training steps should call."""
        return call_g_loss(self, fake_scores, real_scores)

    @property
    def wants_real_scores(self) -> bool:
        """True when :meth:`g_loss` takes ``real_scores``: a training step then computes
        the discriminator's scores on real samples for the generator update."""
        return wants_real_scores(self)

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
