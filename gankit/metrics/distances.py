"""Distances between two sets of feature vectors: KID, Fréchet distance, precision and
recall, and nearest training neighbours (memorisation).

Every function takes (N, D) tensors or arrays (any float dtype) and works in float64 on
the CPU. Pairwise distances are computed a block of rows at a time, so 50000 x 50000
comparisons never hold an N x N matrix.
"""

from __future__ import annotations

KID_SUBSETS = 100        # as torch-fidelity and Binkowski et al.
KID_SUBSET_SIZE = 1000
KID_SEED = 2020          # torch-fidelity's default rng_seed
KNN_K = 3                # Kynkäänniemi et al. 2019
MEMORISATION_QUANTILE = 0.1
_BLOCK = 1024            # rows of a pairwise-distance block
_FULL_GRAM_LIMIT = 5000  # KID: one Gram matrix of all features up to this many rows


def _f64(x):
    import torch

    t = torch.as_tensor(x).detach().to("cpu", torch.float64)
    if t.ndim != 2:
        raise ValueError(f"features must be (N, D), got {tuple(t.shape)}")
    return t


def _check_pair(a, b):
    a, b = _f64(a), _f64(b)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"feature sizes differ: {a.shape[1]} and {b.shape[1]}")
    return a, b


def _dist_block(a, b, b_sq):
    """Euclidean distances of rows of ``a`` to all rows of ``b`` (float64)."""
    d2 = (a * a).sum(1, keepdim=True) + b_sq[None, :] - 2.0 * (a @ b.T)
    return d2.clamp_min_(0.0).sqrt_()


def pairwise_distances(a, b):
    """All Euclidean distances (len(a), len(b)); for small sets (tests, pictures)."""
    a, b = _check_pair(a, b)
    return _dist_block(a, b, (b * b).sum(1))


def nearest(a, b):
    """For each row of ``a`` its nearest row of ``b``: (distance, index)."""
    import torch

    a, b = _check_pair(a, b)
    b_sq = (b * b).sum(1)
    dists, idxs = [], []
    for i in range(0, a.shape[0], _BLOCK):
        d, j = _dist_block(a[i:i + _BLOCK], b, b_sq).min(1)
        dists.append(d)
        idxs.append(j)
    return torch.cat(dists), torch.cat(idxs)


def kth_neighbour_distance(x, k: int = KNN_K):
    """Distance of each row of ``x`` to its k-th nearest *other* row."""
    import torch

    x = _f64(x)
    n = x.shape[0]
    if not 1 <= k < n:
        raise ValueError(f"need more than k={k} samples for a k-NN radius, got {n}")
    x_sq = (x * x).sum(1)
    out = []
    for i in range(0, n, _BLOCK):
        d = _dist_block(x[i:i + _BLOCK], x, x_sq)
        rows = torch.arange(d.shape[0])
        d[rows, rows + i] = float("inf")  # not its own neighbour
        out.append(d.kthvalue(k, dim=1).values)
    return torch.cat(out)


def _within_any(points, centres, radii):
    """For each point: is it inside at least one ball (centre, radius)?"""
    import torch

    c_sq = (centres * centres).sum(1)
    out = []
    for i in range(0, points.shape[0], _BLOCK):
        d = _dist_block(points[i:i + _BLOCK], centres, c_sq)
        out.append((d <= radii[None, :]).any(1))
    return torch.cat(out)


def precision_recall(real, fake, k: int = KNN_K) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019).

    The real manifold is the union of balls around each real feature with the radius
    of its k-th nearest real neighbour; *precision* is the share of generated samples
    inside it. *Recall* swaps the roles: the share of real samples inside the balls of
    the generated set.
    """
    real, fake = _check_pair(real, fake)
    precision = _within_any(fake, real, kth_neighbour_distance(real, k)).double().mean()
    recall = _within_any(real, fake, kth_neighbour_distance(fake, k)).double().mean()
    return float(precision), float(recall)


# -- Fréchet distance -------------------------------------------------------------------


def mean_cov(x):
    """Mean and unbiased covariance (as numpy.cov) of the rows of ``x``."""
    x = _f64(x)
    if x.shape[0] < 2:
        raise ValueError("a covariance needs at least two samples")
    mu = x.mean(0)
    xc = x - mu
    return mu, (xc.T @ xc) / (x.shape[0] - 1)


def frechet_from_stats(mu1, s1, mu2, s2) -> float:
    """|mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^(1/2)).

    The trace of the matrix square root is taken as the sum of the square roots of
    the eigenvalues of S1^(1/2) S2 S1^(1/2) (a symmetric matrix with the same
    eigenvalues as S1 S2), which stays real and stable where a general ``sqrtm`` of the
    product can turn complex from rounding.
    """
    import torch

    mu1, mu2 = (torch.as_tensor(v, dtype=torch.float64) for v in (mu1, mu2))
    s1, s2 = (torch.as_tensor(v, dtype=torch.float64) for v in (s1, s2))
    w, v = torch.linalg.eigh(s1)
    root = (v * w.clamp_min(0).sqrt()) @ v.T
    m = root @ s2 @ root
    ev = torch.linalg.eigvalsh((m + m.T) / 2).clamp_min(0)
    diff = mu1 - mu2
    return float(diff @ diff + torch.trace(s1) + torch.trace(s2) - 2 * ev.sqrt().sum())


def frechet_distance(real, fake) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (FID's formula)."""
    real, fake = _check_pair(real, fake)
    return frechet_from_stats(*mean_cov(real), *mean_cov(fake))


# -- KID ----------------------------------------------------------------------------------


def _poly(gram, gamma, coef0, degree):
    return (gram * gamma + coef0) ** degree


def kid(real, fake, subsets: int = KID_SUBSETS, subset_size: int = KID_SUBSET_SIZE,
        seed: int = KID_SEED, degree: int = 3, gamma: float | None = None,
        coef0: float = 1.0, full_gram: bool | None = None) -> tuple[float, float]:
    """Kernel Inception Distance in any feature space: (mean, std) over subsets.

    The unbiased estimator of the squared MMD with the kernel
    ``k(x, y) = (gamma x.y + coef0) ** degree`` (gamma = 1 / D), averaged over
    ``subsets`` random subsets of ``m = min(subset_size, len(real), len(fake))`` samples
    drawn without replacement from each set (Binkowski et al. 2018). The subsets are
    drawn exactly as torch-fidelity draws them (``numpy.random.RandomState(seed)``,
    generated set first), so with the same features and seed the numbers agree.
    """
    import numpy as np
    import torch

    real, fake = _check_pair(real, fake)
    n_f, n_r = fake.shape[0], real.shape[0]
    m = min(subset_size, n_f, n_r)
    if m < 2:
        raise ValueError("KID needs at least two samples in each set")
    gamma = 1.0 / real.shape[1] if gamma is None else gamma
    rng = np.random.RandomState(seed)
    picks = [(rng.choice(n_f, m, replace=False), rng.choice(n_r, m, replace=False))
             for _ in range(subsets)]
    if full_gram is None:
        full_gram = n_f + n_r <= _FULL_GRAM_LIMIT
    mmds = torch.empty(subsets, dtype=torch.float64)
    if full_gram:
        # kernel matrices of all samples once; subset sums as indicator products
        k_ff = _poly(fake @ fake.T, gamma, coef0, degree)
        k_rr = _poly(real @ real.T, gamma, coef0, degree)
        k_fr = _poly(fake @ real.T, gamma, coef0, degree)
        w_f = torch.zeros(n_f, subsets, dtype=torch.float64)
        w_r = torch.zeros(n_r, subsets, dtype=torch.float64)
        for s, (i_f, i_r) in enumerate(picks):
            w_f[torch.from_numpy(i_f), s] = 1.0
            w_r[torch.from_numpy(i_r), s] = 1.0
        s_ff = ((k_ff @ w_f) * w_f).sum(0) - torch.diagonal(k_ff) @ w_f
        s_rr = ((k_rr @ w_r) * w_r).sum(0) - torch.diagonal(k_rr) @ w_r
        s_fr = ((k_fr @ w_r) * w_f).sum(0)
        mmds = (s_ff + s_rr) / (m * (m - 1)) - 2 * s_fr / (m * m)
    else:
        for s, (i_f, i_r) in enumerate(picks):
            f, r = fake[torch.from_numpy(i_f)], real[torch.from_numpy(i_r)]
            k_ff = _poly(f @ f.T, gamma, coef0, degree)
            k_rr = _poly(r @ r.T, gamma, coef0, degree)
            k_fr = _poly(f @ r.T, gamma, coef0, degree)
            mmds[s] = ((k_ff.sum() - k_ff.diagonal().sum() + k_rr.sum() - k_rr.diagonal().sum())
                       / (m * (m - 1)) - 2 * k_fr.sum() / (m * m))
    return float(mmds.mean()), float(mmds.std(unbiased=False))


# -- memorisation ----------------------------------------------------------------------------


def memorisation(real, fake, quantile: float = MEMORISATION_QUANTILE) -> dict:
    """How close generated samples come to training samples.

    For each generated sample: its nearest training sample (``index``) and the distance
    to it (``distance``). For each training sample: the distance to its nearest *other*
    training sample (``train_distance``). ``threshold`` is the ``quantile`` of those
    train-to-train distances, and ``share`` the fraction of generated samples closer to
    a training sample than that: about ``quantile`` for samples that are fresh draws
    from the training distribution, towards 1 when the generator reproduces training
    images. ``ratio`` is the median sample-to-train distance over the median
    train-to-train distance (about 1 for fresh draws, near 0 for copies; None when
    the training set is all duplicates).
    """
    import torch

    real, fake = _check_pair(real, fake)
    if real.shape[0] < 2:
        raise ValueError("memorisation needs at least two training samples")
    if not 0 < quantile < 1:
        raise ValueError(f"quantile must be in (0, 1), got {quantile}")
    dist, index = nearest(fake, real)
    train = kth_neighbour_distance(real, 1)
    threshold = float(torch.quantile(train, quantile))
    median_train = float(train.median())
    return {
        "share": float((dist < threshold).double().mean()),
        "threshold": threshold,
        "quantile": quantile,
        "ratio": float(dist.median()) / median_train if median_train > 0 else None,
        "distance": dist,
        "index": index,
        "train_distance": train,
    }
