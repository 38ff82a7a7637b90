"""benchmarks.plain_scenes: the scenes are exact composites, and closed-form solves them."""

from __future__ import annotations

import numpy as np

from benchmarks.plain_scenes import band_error, plain_scene


def test_scenes_are_exact_composites_with_every_soft_pixel_unknown() -> None:
    for seed in range(6):
        image, alpha, trimap = plain_scene(seed)
        soft = (alpha > 0) & (alpha < 1)
        assert soft.any() and np.all(trimap[soft] == 0.5)
        assert set(np.unique(trimap)) == {0.0, 0.5, 1.0}
        assert np.all(alpha[trimap == 1] == 1) and np.all(alpha[trimap == 0] == 0)
        # Two flat colours: every pixel lies on the line between them at its alpha.
        fg, bg = image[alpha == 1][0], image[alpha == 0][0]
        assert np.linalg.norm(fg - bg) >= 0.5
        expected = alpha[..., None] * fg + (1 - alpha[..., None]) * bg
        assert np.allclose(image, expected, atol=1e-6)
    assert not np.array_equal(plain_scene(0)[1], plain_scene(1)[1])
    assert np.array_equal(plain_scene(3)[0], plain_scene(3)[0])


def test_closed_form_matting_is_near_exact_on_a_plain_scene() -> None:
    import alphagan

    image, alpha, trimap = plain_scene(0)
    assert band_error(alphagan.matte(image, trimap, method="cf"), alpha, trimap) < 0.01
    # The measure is not blind: the trimap's own grey (0.5) is far off.
    assert band_error(np.where(trimap == 0.5, 0.5, trimap), alpha, trimap) > 0.1
