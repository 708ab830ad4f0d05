"""gankit.metrics: every formula against an independent numpy/scipy reference, and the
sanity properties (same distribution -> ~0, shifted -> larger)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gankit.metrics import cache as fcache
from gankit.metrics import distances, features, swd

scipy = pytest.importorskip("scipy")
from scipy import linalg, ndimage, stats  # noqa: E402


def feats(n, d=8, shift=0.0, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)) + shift


# -- KID ----------------------------------------------------------------------------------


def kid_reference(real, fake, subsets, m, seed, degree=3, coef0=1.0):
    """The unbiased MMD^2 estimator written out with explicit off-diagonal sums."""
    rng = np.random.RandomState(seed)
    gamma = 1.0 / real.shape[1]
    k = lambda a, b: (a @ b.T * gamma + coef0) ** degree  # noqa: E731
    out = []
    for _ in range(subsets):
        x = fake[rng.choice(len(fake), m, replace=False)]
        y = real[rng.choice(len(real), m, replace=False)]
        kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
        off = ~np.eye(m, dtype=bool)
        out.append(kxx[off].sum() / (m * (m - 1)) + kyy[off].sum() / (m * (m - 1))
                   - 2 * kxy.sum() / (m * m))
    return np.mean(out), np.std(out)


@pytest.mark.parametrize("full_gram", [True, False])
def test_kid_matches_the_unbiased_estimator(full_gram):
    real, fake = feats(40, 6, seed=1), feats(55, 6, shift=0.3, seed=2)
    mean, std = distances.kid(real, fake, subsets=7, subset_size=30, seed=5, full_gram=full_gram)
    ref_mean, ref_std = kid_reference(real, fake, 7, 30, 5)
    assert mean == pytest.approx(ref_mean, rel=1e-9, abs=1e-12)
    assert std == pytest.approx(ref_std, rel=1e-9, abs=1e-12)
    # the subset size is capped by the smaller set
    mean, _ = distances.kid(real, fake, subsets=3, subset_size=1000, seed=5)
    assert mean == pytest.approx(kid_reference(real, fake, 3, 40, 5)[0], rel=1e-9)


def test_kid_agrees_with_torch_fidelity():
    metric_kid = pytest.importorskip("torch_fidelity.metric_kid")
    real, fake = feats(60, 5, seed=3), feats(50, 5, shift=0.5, seed=4)
    ours = distances.kid(real, fake, subsets=10, subset_size=50)
    theirs = metric_kid.kid_features_to_metric(
        torch.from_numpy(fake), torch.from_numpy(real), kid_subsets=10, kid_subset_size=50,
        verbose=False, rng_seed=distances.KID_SEED, kid_kernel="poly",
        kid_kernel_poly_degree=3, kid_kernel_poly_gamma=None, kid_kernel_poly_coef0=1)
    assert ours[0] == pytest.approx(theirs["kernel_inception_distance_mean"], rel=1e-9)


def test_kid_near_zero_for_one_distribution_and_larger_when_shifted():
    a, b = feats(400, 8, seed=1), feats(400, 8, seed=2)
    same = distances.kid(a, b, subsets=20)[0]
    shifted = distances.kid(a, feats(400, 8, shift=0.5, seed=2), subsets=20)[0]
    assert abs(same) < 0.01 < shifted


# -- Fréchet distance ---------------------------------------------------------------------


def test_frechet_distance_matches_scipy_sqrtm():
    real, fake = feats(80, 6, seed=1), feats(70, 6, seed=2) * 1.5 + 0.2
    mu1, mu2 = real.mean(0), fake.mean(0)
    s1, s2 = np.cov(real, rowvar=False), np.cov(fake, rowvar=False)
    covmean = linalg.sqrtm(s1 @ s2).real
    ref = ((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean)
    assert distances.frechet_distance(real, fake) == pytest.approx(ref, rel=1e-8)
    assert distances.frechet_distance(real, real) == pytest.approx(0.0, abs=1e-8)


def test_frechet_distance_grows_with_a_shift():
    a, b = feats(500, 4, seed=1), feats(500, 4, seed=2)
    near = distances.frechet_distance(a, b)
    far = distances.frechet_distance(a, b + 1.0)
    # a shift moves only the mean term: |m_a - m_b - 1|^2 = |m_a - m_b|^2 - 2 sum(m_a - m_b) + 4
    assert near < 0.2 and far == pytest.approx(near - 2 * (a.mean(0) - b.mean(0)).sum() + 4.0)


# -- precision and recall --------------------------------------------------------------------


def prc_reference(real, fake, k=3):
    def radii(x):
        d = np.sqrt(((x[:, None] - x[None]) ** 2).sum(-1))
        return np.sort(d, axis=1)[:, k]  # column 0 is the point itself

    def inside(points, centres, r):
        d = np.sqrt(((points[:, None] - centres[None]) ** 2).sum(-1))
        return (d <= r[None, :]).any(1).mean()

    return inside(fake, real, radii(real)), inside(real, fake, radii(fake))


def test_precision_recall_match_brute_force_knn():
    real, fake = feats(60, 3, seed=1), feats(45, 3, seed=2) * 0.6 + 0.7
    p, r = distances.precision_recall(real, fake)
    rp, rr = prc_reference(real, fake)
    assert (p, r) == (pytest.approx(rp), pytest.approx(rr))
    assert 0 < p < 1 and 0 < r < 1  # a case where both are informative


def test_precision_recall_sanity():
    a = feats(300, 4, seed=1)
    assert distances.precision_recall(a, a) == (1.0, 1.0)
    p, r = distances.precision_recall(a, feats(300, 4, shift=5.0, seed=2))
    assert p == 0.0 and r == 0.0
    # a collapsed generator: precise but no recall
    collapsed = np.repeat(a[:1], 50, 0) + 1e-3 * feats(50, 4, seed=3)
    p, r = distances.precision_recall(a, collapsed)
    assert p == 1.0 and r < 0.05


def test_knn_radius_ignores_the_point_itself_and_works_in_blocks(monkeypatch):
    x = feats(30, 2, seed=4)
    monkeypatch.setattr(distances, "_BLOCK", 7)  # several blocks, self at an offset
    d = np.sqrt(((x[:, None] - x[None]) ** 2).sum(-1))
    np.fill_diagonal(d, np.inf)
    assert np.allclose(distances.kth_neighbour_distance(x, 2).numpy(), np.sort(d, 1)[:, 1])


# -- memorisation ---------------------------------------------------------------------------


def test_memorisation_finds_the_nearest_training_sample():
    real, fake = feats(50, 5, seed=1), feats(20, 5, seed=2)
    mem = distances.memorisation(real, fake)
    d = np.sqrt(((fake[:, None] - real[None]) ** 2).sum(-1))
    assert np.array_equal(mem["index"].numpy(), d.argmin(1))
    assert np.allclose(mem["distance"].numpy(), d.min(1))
    dr = np.sqrt(((real[:, None] - real[None]) ** 2).sum(-1))
    np.fill_diagonal(dr, np.inf)
    assert mem["threshold"] == pytest.approx(np.quantile(dr.min(1), 0.1))


def test_memorisation_share_copies_versus_new_draws():
    real = feats(400, 6, seed=1)
    copies = real[:100] + 1e-4 * feats(100, 6, seed=2)
    fresh = feats(2000, 6, seed=3)
    assert distances.memorisation(real, copies)["share"] == 1.0
    assert distances.memorisation(real, copies)["ratio"] < 0.01
    m = distances.memorisation(real, fresh)
    assert 0.05 < m["share"] < 0.2 and 0.8 < m["ratio"] < 1.25  # chance level: the quantile


# -- sliced Wasserstein distance -------------------------------------------------------------

GAUSS = np.float32([1, 4, 6, 4, 1])
GAUSS = np.outer(GAUSS, GAUSS) / 256.0


def pyramid_reference(x, levels):
    """ProGAN's numpy code (scipy.ndimage.convolve, mode='mirror' as cv2)."""
    def down(m):
        return ndimage.convolve(m, GAUSS[None, None], mode="mirror")[:, :, ::2, ::2]

    def up(m, shape):
        res = np.zeros(m.shape[:2] + (m.shape[2] * 2, m.shape[3] * 2), m.dtype)
        res[:, :, ::2, ::2] = m
        return ndimage.convolve(res, GAUSS[None, None] * 4.0, mode="mirror")[:, :, :shape[0], :shape[1]]

    pyr = [np.float64(x)]
    for _ in range(1, levels):
        pyr.append(down(pyr[-1]))
        pyr[-2] = pyr[-2] - up(pyr[-1], pyr[-2].shape[2:])
    return pyr


def images(n, size=32, seed=0, c=3):
    return torch.randint(0, 256, (n, c, size, size), generator=torch.Generator().manual_seed(seed),
                         dtype=torch.uint8)


@pytest.mark.parametrize("size", [32, 28])
def test_laplacian_pyramid_matches_progan_reference(size):
    x = images(2, size, seed=1)
    ours = swd.laplacian_pyramid(x.float(), 3)
    ref = pyramid_reference(x.numpy(), 3)
    assert [tuple(t.shape[-2:]) for t in ours] == [r.shape[-2:] for r in ref]
    for a, b in zip(ours, ref):
        assert np.allclose(a.numpy(), b, atol=1e-3)
    assert swd.resolutions(64) == [64, 32, 16] and swd.resolutions(28) == [28]


def test_descriptors_are_the_7x7_windows():
    level = torch.randn(3, 2, 12, 12)
    img, y, x = torch.tensor([0, 2, 2]), torch.tensor([0, 5, 3]), torch.tensor([5, 0, 2])
    d = swd.descriptors(level, img, y, x)
    for k in range(3):
        assert torch.equal(d[k], level[img[k], :, y[k]:y[k] + 7, x[k]:x[k] + 7])


@pytest.mark.parametrize("na,nb", [(50, 50), (50, 23), (7, 31)])
def test_sliced_w1_matches_scipy(na, nb):
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(na, 5, generator=g), torch.randn(nb, 5, generator=g) * 1.3 + 0.2
    dirs = swd.random_directions(5, 6, g)
    ours = swd.sliced_w1(a, b, dirs).numpy()
    ref = [stats.wasserstein_distance((a @ dirs[:, j]).numpy(), (b @ dirs[:, j]).numpy())
           for j in range(6)]
    assert np.allclose(ours, ref, rtol=1e-5)
    assert torch.allclose(dirs.norm(dim=0), torch.ones(6))


def swd_reference(real, fake, seed, directions):
    """A slow direct SWD from the same random windows and directions."""
    res = swd.resolutions(real.shape[-1])
    pyrs = [pyramid_reference(x.numpy(), len(res)) for x in (real, fake)]
    out = {}
    for li, r in enumerate(res):
        descs = []
        for role, (x, pyr) in enumerate(zip((real, fake), pyrs), start=1):
            g = torch.Generator().manual_seed(swd._seed(seed, li, role))
            h, w = pyr[li].shape[2:]
            # the windows of every level are drawn from that level's own generator
            img, y, xx = swd.sample_positions(len(x), h, w, swd.per_image_count(len(x)), g)
            descs.append(np.stack([pyr[li][i, :, a:a + 7, b:b + 7]
                                   for i, a, b in zip(img.tolist(), y.tolist(), xx.tolist())]))
        mean = descs[0].mean(axis=(0, 2, 3), keepdims=True)
        std = descs[0].std(axis=(0, 2, 3), keepdims=True)
        flat = [((d - mean) / std).reshape(len(d), -1) for d in descs]
        g = torch.Generator().manual_seed(swd._seed(seed, li, 3))
        dists = []
        for start in range(0, directions, swd.DIRECTION_CHUNK):
            dirs = swd.random_directions(flat[0].shape[1], min(swd.DIRECTION_CHUNK, directions - start), g)
            for j in range(dirs.shape[1]):
                v = dirs[:, j].double().numpy()
                dists.append(stats.wasserstein_distance(flat[0] @ v, flat[1] @ v))
        out[r] = np.mean(dists) * 1e3
    return out


def test_swd_matches_a_slow_direct_implementation():
    real, fake = images(3, 32, seed=1), images(5, 32, seed=2) // 2
    ours = swd.swd(real, fake, seed=4, directions=160)
    ref = swd_reference(real, fake, 4, 160)
    assert list(ours["levels"]) == [32, 16]
    for r in ref:
        assert ours["levels"][r] == pytest.approx(ref[r], rel=1e-4)
    assert ours["swd"] == pytest.approx(np.mean(list(ref.values())), rel=1e-4)


def smooth_images(n, size=32, seed=0):
    """Random blobs: images with structure at several scales."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 3, 4, 4, generator=g)
    x = torch.nn.functional.interpolate(x, size=(size, size), mode="bicubic", align_corners=False)
    x = x + 0.15 * torch.rand(n, 3, size, size, generator=g)
    return (x.clamp(0, 1) * 255).to(torch.uint8)


def test_swd_sanity_same_distribution_small_shifted_larger():
    a, b = smooth_images(60, seed=1), smooth_images(60, seed=2)
    same = swd.swd(a, b, directions=128)["swd"]
    dark = swd.swd(a, (b.float() * 0.6).to(torch.uint8), directions=128)["swd"]
    blurred = torch.nn.functional.avg_pool2d(b.float(), 3, 1, 1).to(torch.uint8)
    blur = swd.swd(a, blurred, directions=128)["swd"]
    assert dark > 3 * same and blur > 3 * same
    # ProGAN's per-set normalisation cannot see a global contrast change at the finest level
    each = swd.swd(a, (b.float() * 0.6).to(torch.uint8), directions=128, normalise="each")
    assert each["levels"][32] < swd.swd(a, (b.float() * 0.6).to(torch.uint8),
                                         directions=128)["levels"][32] / 3


def test_swd_is_seeded():
    a, b = images(4, 32, seed=1), images(6, 32, seed=2)
    assert swd.swd(a, b, seed=3, directions=64) == swd.swd(a, b, seed=3, directions=64)
    assert swd.swd(a, b, seed=3, directions=64) != swd.swd(a, b, seed=4, directions=64)


def test_swd_descriptor_budget_caps_large_sets():
    assert swd.per_image_count(1000) == 128
    assert swd.per_image_count(10_000) * 10_000 <= swd.DESCRIPTOR_BUDGET
    assert swd.per_image_count(10**7) == 1


# -- the feature space ------------------------------------------------------------------------


def test_feature_space_is_fixed_and_documented():
    assert features.FEATURE_SPACE == "gankit-randconv-v1"
    # the weights are part of the space: a change here needs a new FEATURE_SPACE version
    assert features.checksum() == "26c79b035431"
    f = features.extract(images(5, 64, seed=1))
    assert f.shape == (5, features.DIM) == (5, 1008) and f.dtype == torch.float32
    assert torch.equal(f, features.extract(images(5, 64, seed=1)))
    assert torch.isfinite(f).all()


def test_features_of_grey_images_equal_their_rgb_copy_and_sizes_share_a_space():
    grey = images(3, 64, seed=2, c=1)
    assert torch.allclose(features.extract(grey), features.extract(grey.expand(-1, 3, -1, -1)))
    small = smooth_images(4, 32, seed=3)
    big = torch.nn.functional.interpolate(small.float(), size=(64, 64), mode="bilinear",
                                          antialias=True).round().to(torch.uint8)
    far = features.extract(smooth_images(4, 64, seed=9))
    d_same = (features.extract(small) - features.extract(big)).norm(dim=1).mean()
    d_other = (features.extract(big) - far).norm(dim=1).mean()
    assert d_same < d_other / 3


def test_features_separate_blurred_noisy_and_dark_from_sharp():
    sharp, other = smooth_images(100, 64, seed=1), smooth_images(100, 64, seed=3)
    base = smooth_images(100, 64, seed=2).float()
    g = torch.Generator().manual_seed(0)
    shifted = {
        "blurred": torch.nn.functional.avg_pool2d(base, 5, 1, 2),
        "noisy": base + 20 * torch.randn(base.shape, generator=g),
        "dark": base * 0.7,
    }
    fs, fo = features.extract(sharp), features.extract(other)
    same = distances.kid(fs, fo)[0]
    assert abs(same) < 1e-4
    for name, x in shifted.items():
        fx = features.extract(x.clamp(0, 255).to(torch.uint8))
        assert distances.kid(fs, fx)[0] > 5e-4, name
    # (the Fréchet distance of 100 samples in 1008 dimensions is mostly estimation bias:
    # only a strong shift stands out)
    fd_dark = distances.frechet_distance(fs, features.extract(shifted["dark"].to(torch.uint8)))
    assert fd_dark > 3 * distances.frechet_distance(fs, fo)


# -- the cache ---------------------------------------------------------------------------------


def test_real_features_are_cached_per_fingerprint(tmp_path, monkeypatch):
    monkeypatch.setenv("GANKIT_CACHE_DIR", str(tmp_path))
    calls = []

    def compute(x):
        calls.append(len(x))
        return x.float().flatten(1)[:, :4]

    a, b = images(3, 8, seed=1), images(3, 8, seed=2)
    first = fcache.features(a, "space-1", compute)
    again = fcache.features(a, "space-1", compute)
    assert torch.equal(first, again) and calls == [3]
    fcache.features(b, "space-1", compute)          # other images
    fcache.features(a, "space-2", compute)          # other feature space
    assert calls == [3, 3, 3]
    files = sorted((tmp_path / "metrics").glob("*.safetensors"))
    assert len(files) == 3 and not list((tmp_path / "metrics").glob("*.tmp"))
    from safetensors import safe_open

    with safe_open(str(files[0]), framework="pt") as fh:
        assert fh.metadata()["format"] == "gankit-feature-cache"
    path = fcache.cache_path("space-1", a)
    path.write_bytes(b"garbage")                    # a damaged file is rebuilt
    assert torch.equal(fcache.features(a, "space-1", compute), first) and calls == [3, 3, 3, 3]
    fcache.features(a, "space-1", compute, enabled=False)
    assert calls == [3, 3, 3, 3, 3]


def test_cache_dir_defaults_to_the_user_cache(monkeypatch, tmp_path):
    monkeypatch.delenv("GANKIT_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert fcache.cache_dir() == tmp_path / "gankit" / "metrics"
