"""The classic adversarial losses, on raw discriminator scores (logits).

``bce``      non-saturating GAN loss (Goodfellow et al., the practical form)
``minimax``  the original saturating form, log(1 - D(G(z))), for teaching
``hinge``    hinge loss (Lim & Ye; Miyato et al.)
``lsgan``    least squares (Mao et al.), a = 0, b = c = 1
``rsgan``    relativistic standard GAN (Jolicoeur-Martineau 2018)
``ragan``    relativistic average standard GAN (RaSGAN, same paper)
``ralsgan``  relativistic average least squares (RaLSGAN, same paper)

The relativistic generator losses use the discriminator's scores on real samples:
``g_loss(fake_scores, real_scores)``. Written as in the paper (its equations, without
the 1/2 of the author's code). Called without real scores (a model whose own
``train_step`` predates them), they use 0 as the real scores and warn once.
"""

from __future__ import annotations

from gankit import Loss, console, hookimpl

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


class _Relativistic(Loss):
    """Shared by the relativistic losses: the real scores' stand-in when none are given."""

    def _real(self, fake_scores, real_scores):
        if real_scores is not None:
            return real_scores.float()
        if not getattr(self, "_warned", False):
            self._warned = True
            console.warn(f"loss '{self.name}': g_loss() got no real scores (the model's "
                         "train_step predates them); using 0 in their place")
        import torch

        return torch.zeros_like(fake_scores, dtype=torch.float32)


def _paired(a, b, what):
    if a.shape != b.shape:
        raise ValueError(f"{what}: real and fake scores must have the same shape to be "
                         f"paired, got {tuple(a.shape)} and {tuple(b.shape)}")


class RelativisticStandard(_Relativistic):
    name = "rsgan"
    summary = ("relativistic standard (Jolicoeur-Martineau): D min -log sig(D(x)-D(G(z))), "
               "G min -log sig(D(G(z))-D(x)), paired samples")

    def d_loss(self, real_scores, fake_scores):
        _paired(real_scores, fake_scores, self.name)
        return _softplus(fake_scores.float() - real_scores.float()).mean()

    def g_loss(self, fake_scores, real_scores=None):
        real = self._real(fake_scores, real_scores)
        _paired(real, fake_scores, self.name)
        return _softplus(real - fake_scores.float()).mean()


class RelativisticAverage(_Relativistic):
    name = "ragan"
    summary = ("relativistic average standard (RaSGAN): D min -log sig(D(x)-E D(G(z))) "
               "-log(1-sig(D(G(z))-E D(x))), G the same with real and fake swapped")

    def d_loss(self, real_scores, fake_scores):
        r, f = real_scores.float(), fake_scores.float()
        return _softplus(f.mean() - r).mean() + _softplus(f - r.mean()).mean()

    def g_loss(self, fake_scores, real_scores=None):
        r, f = self._real(fake_scores, real_scores), fake_scores.float()
        return _softplus(r.mean() - f).mean() + _softplus(r - f.mean()).mean()


class RelativisticAverageLS(_Relativistic):
    name = "ralsgan"
    summary = ("relativistic average least squares (RaLSGAN): D min (D(x)-E D(G(z))-1)^2 "
               "+ (D(G(z))-E D(x)+1)^2, G the same with real and fake swapped")

    def d_loss(self, real_scores, fake_scores):
        r, f = real_scores.float(), fake_scores.float()
        return ((r - f.mean() - 1) ** 2).mean() + ((f - r.mean() + 1) ** 2).mean()

    def g_loss(self, fake_scores, real_scores=None):
        r, f = self._real(fake_scores, real_scores), fake_scores.float()
        return ((f - r.mean() - 1) ** 2).mean() + ((r - f.mean() + 1) ** 2).mean()


@hookimpl
def register_losses(register):
    register(NonSaturating(), aliases=("non-saturating", "ns"))
    register(Minimax())
    register(Hinge())
    register(LeastSquares(), aliases=("mse", "ls"))
    register(RelativisticStandard(), aliases=("relativistic",))
    register(RelativisticAverage(), aliases=("rasgan",))
    register(RelativisticAverageLS())
