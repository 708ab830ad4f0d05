"""Tests for the procedural sushi demo data set (plugins/gankit_datasets/sushi.py)."""

import numpy as np
import pytest
from PIL import Image

from gankit_datasets.sushi import STYLES, TOPPINGS, render_sushi, sushi_labels


def _fg(images, threshold=40):
    """Foreground mask: any channel brighter than ``threshold``."""
    return images.max(axis=-1) > threshold


def _iou(a, b):
    return (a & b).sum(axis=(1, 2)) / np.maximum((a | b).sum(axis=(1, 2)), 1)


@pytest.fixture(scope="module")
def day():
    return render_sushi(48)


@pytest.fixture(scope="module")
def dusk():
    return render_sushi(48, style="dusk")


def test_constants():
    assert STYLES == ("day", "dusk")
    assert TOPPINGS == ("salmon", "tuna", "tamago", "shrimp", "eel")


def test_shape_and_dtype(day):
    assert day.shape == (48, 96, 96, 3)
    assert day.dtype == np.uint8
    assert render_sushi(0).shape == (0, 96, 96, 3)


@pytest.mark.parametrize("size", [32, 64, 96, 128])
@pytest.mark.parametrize("style", STYLES)
def test_sizes(size, style):
    images = render_sushi(6, size=size, style=style)
    assert images.shape == (6, size, size, 3)
    assert images.dtype == np.uint8
    coverage = _fg(images, 20).mean(axis=(1, 2))
    assert ((coverage > 0.05) & (coverage < 0.6)).all(), coverage


def test_same_seed_same_images(day):
    assert np.array_equal(render_sushi(48), day)
    assert np.array_equal(render_sushi(4, style="dusk", seed=7), render_sushi(4, style="dusk", seed=7))


def test_different_seed_differs(day):
    other = render_sushi(48, seed=1)
    assert not np.array_equal(other, day)
    # not just one image: most images change
    changed = [not np.array_equal(a, b) for a, b in zip(other, day)]
    assert sum(changed) >= 40


def test_prefix_property():
    assert np.array_equal(render_sushi(10)[:5], render_sushi(5))
    assert np.array_equal(render_sushi(10, size=64, seed=3, style="dusk")[:5],
                          render_sushi(5, size=64, seed=3, style="dusk"))
    assert sushi_labels(10, seed=3)[:5] == sushi_labels(5, seed=3)


def test_images_are_varied(day):
    # no two images alike (different topping, pose, size, lighting)
    flat = day.reshape(len(day), -1).astype(np.int16)
    dist = np.abs(flat[:, None] - flat[None]).mean(axis=-1)
    assert dist[~np.eye(len(day), dtype=bool)].min() > 1.0


@pytest.mark.parametrize("style", STYLES)
def test_background_corners_black(style, day, dusk):
    images = day if style == "day" else dusk
    corners = np.concatenate([images[:, :8, :8], images[:, :8, -8:],
                              images[:, -8:, :8], images[:, -8:, -8:]], axis=1)
    assert corners.mean() < 8
    assert (corners.max(axis=-1) < 24).mean() > 0.99


def test_nothing_cut_off_at_border(day):
    border = np.concatenate([day[:, 0], day[:, -1], day[:, :, 0], day[:, :, -1]], axis=1)
    assert (border.max(axis=-1) < 30).all()


def test_day_and_dusk_differ_but_share_geometry(day, dusk):
    assert np.abs(day.astype(np.int16) - dusk).mean() > 5
    iou = _iou(_fg(day, 40), _fg(dusk, 20))
    assert iou.mean() > 0.9 and iou.min() > 0.8, iou


def test_dusk_is_darker_warmer_and_flatter(day, dusk):
    mask = _fg(day)
    d, k = day[mask].astype(float), dusk[mask].astype(float)
    assert k.mean() < 0.8 * d.mean()          # darker
    assert k.std() < 0.8 * d.std()            # lower contrast
    # warm/purple tint: red dominates green much more than in daylight
    assert k[:, 0].mean() / k[:, 1].mean() > d[:, 0].mean() / d[:, 1].mean()


def test_labels_cover_all_toppings():
    labels = sushi_labels(256)
    assert len(labels) == 256
    assert set(labels) == set(TOPPINGS)
    assert all(labels.count(t) >= 20 for t in TOPPINGS)
    assert sushi_labels(256, seed=1) != labels


def test_labels_match_pictures():
    images, labels = render_sushi(120), np.array(sushi_labels(120))
    colour = {}
    for t in TOPPINGS:
        x = images[labels == t]
        colour[t] = x[_fg(x)].astype(float).mean(axis=0)  # mean RGB of the sushi pixels
    r, g, b = (np.array([colour[t][c] for t in TOPPINGS]) for c in range(3))
    assert TOPPINGS[int(np.argmin(r + g + b))] == "eel"      # dark glazed
    assert TOPPINGS[int(np.argmin(g / r))] == "tuna"         # deep red
    assert TOPPINGS[int(np.argmax(g - b))] == "tamago"       # yellow


def test_geometry_does_not_depend_on_size():
    small = render_sushi(8, size=64)
    large = render_sushi(8, size=128)
    shrunk = np.stack([np.asarray(Image.fromarray(x).resize((64, 64), Image.Resampling.LANCZOS))
                       for x in large])
    assert _iou(_fg(small), _fg(shrunk)).min() > 0.9


def test_bad_arguments():
    with pytest.raises(ValueError, match="style"):
        render_sushi(1, style="night")
    with pytest.raises(ValueError):
        render_sushi(1, size=4)
