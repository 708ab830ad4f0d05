"""The classic adversarial losses, on raw discriminator scores (logits).

``bce``      non-saturating GAN loss (Goodfellow et al., the practical form)
``minimax``  the original saturating form, log(1 - D(G(z))), for teaching
``hinge``    hinge loss (Lim & Ye; Miyato et al.)
``lsgan``    least squares (Mao et al.), a = 0, b = c = 1
"""

from __future__ import annotations

from gankit import Loss, hookimpl

__version__ = "1.0.0"


def _softplus(x):
    import torch.nn.functional as F

    return F.softplus(x.float())


class NonSaturating(Loss):
    name = "bce"
    summary = "non-saturating BCE: D max log D(x) + log(1-D(G(z))), G max log D(G(z))"

    def d_loss(self, real_scores, fake_scores):
        return _softplus(-real_scores).mean() + _softplus(fake_scores).mean()

    def g_loss(self, fake_scores):
        return _softplus(-fake_scores).mean()


class Minimax(NonSaturating):
    name = "minimax"
    summary = "original saturating minimax: G min log(1-D(G(z))) (vanishing gradients, for teaching)"

    def g_loss(self, fake_scores):
        return -_softplus(fake_scores).mean()


class Hinge(Loss):
    name = "hinge"
    summary = "hinge: D min relu(1-D(x)) + relu(1+D(G(z))), G min -D(G(z))"

    def d_loss(self, real_scores, fake_scores):
        import torch.nn.functional as F

        return F.relu(1 - real_scores.float()).mean() + F.relu(1 + fake_scores.float()).mean()

    def g_loss(self, fake_scores):
        return -fake_scores.float().mean()


class LeastSquares(Loss):
    name = "lsgan"
    summary = "least squares: D min (D(x)-1)^2/2 + D(G(z))^2/2, G min (D(G(z))-1)^2/2"

    def d_loss(self, real_scores, fake_scores):
        return 0.5 * ((real_scores.float() - 1) ** 2).mean() + 0.5 * (fake_scores.float() ** 2).mean()

    def g_loss(self, fake_scores):
        return 0.5 * ((fake_scores.float() - 1) ** 2).mean()


@hookimpl
def register_losses(register):
    register(NonSaturating(), aliases=("non-saturating", "ns"))
    register(Minimax())
    register(Hinge())
    register(LeastSquares(), aliases=("mse", "ls"))
