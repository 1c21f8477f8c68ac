"""ranvier.data.transforms against NumPy references: ToTensor, Normalize, crops, flips,
RandomAffine (exact rotations/translations, bilinear half-pixel shift), RandomErasing,
GaussianNoise, and reproducibility under ranvier.manual_seed."""
import numpy as np
import pytest

import ranvier
from ranvier.data import transforms as T
from helpers import assert_close, to_np


def _img(h=5, w=6, c=3, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, c)).astype(np.uint8)


def test_to_tensor():
    a = _img()
    t = T.ToTensor()(a)
    assert_close(t, a.transpose(2, 0, 1).astype(np.float32) / 255)
    g = a[:, :, 0]
    assert_close(T.ToTensor()(g), g[None].astype(np.float32) / 255)
    f = np.random.default_rng(1).random((4, 4, 2))
    assert_close(T.ToTensor()(f), f.transpose(2, 0, 1))  # non-uint8 keeps values
    with pytest.raises(TypeError, match="ToTensor"):
        T.ToTensor()(ranvier.zeros(3, 4, 4))
    with pytest.raises(ValueError, match="ToTensor"):
        T.ToTensor()(np.zeros((2, 2, 2, 2)))


def test_normalize():
    x = np.random.default_rng(0).random((3, 4, 5)).astype(np.float32)
    mean, std = [0.1, 0.2, 0.3], [0.5, 0.25, 2.0]
    ref = (x - np.array(mean, np.float32)[:, None, None]) / np.array(std, np.float32)[:, None,
                                                                                        None]
    t = ranvier.from_numpy(x.copy())
    assert_close(T.Normalize(mean, std)(t), ref, rtol=1e-6)
    assert_close(t, x)  # not in place
    out = T.Normalize(mean, std, inplace=True)(t)
    assert_close(t, ref, rtol=1e-6)
    assert out is t or np.array_equal(to_np(out), to_np(t))
    batch = ranvier.from_numpy(np.stack([x, x]))
    assert_close(T.Normalize(mean, std)(batch), np.stack([ref, ref]), rtol=1e-6)
    with pytest.raises(ValueError, match="std evaluated to zero"):
        T.Normalize(mean, [1, 0, 1])(ranvier.from_numpy(x))
    with pytest.raises(TypeError, match="float tensor"):
        T.Normalize(mean, std)(ranvier.zeros(3, 2, 2, dtype=ranvier.uint8))
    with pytest.raises(ValueError, match="channels"):
        T.Normalize([0, 0], [1, 1])(ranvier.from_numpy(x))


def test_lambda_and_compose():
    f = T.Compose([T.ToTensor(), T.Lambda(lambda t: t * 2)])
    a = _img()
    assert_close(f(a), a.transpose(2, 0, 1).astype(np.float32) / 255 * 2, rtol=1e-6)
    with pytest.raises(TypeError, match="callable"):
        T.Lambda(3)


def _find_window(big, small):
    """All (top, left) where small occurs in big (HWC arrays)."""
    h, w = small.shape[:2]
    return [(i, j) for i in range(big.shape[0] - h + 1) for j in range(big.shape[1] - w + 1)
            if np.array_equal(big[i:i + h, j:j + w], small)]


def test_random_crop_is_a_window_of_the_padded_image():
    a = _img(6, 7)
    ranvier.manual_seed(0)
    for mode in ("constant", "edge", "reflect", "symmetric"):
        out = T.RandomCrop((4, 5), padding=2, padding_mode=mode, fill=9)(a)
        padded = np.pad(a, ((2, 2), (2, 2), (0, 0)), mode=mode,
                        **({"constant_values": 9} if mode == "constant" else {}))
        assert out.shape == (4, 5, 3) and _find_window(padded, out)
    # tensors: CHW
    t = ranvier.from_numpy(a.transpose(2, 0, 1).copy())
    out = T.RandomCrop(3)(t)
    assert tuple(out.shape) == (3, 3, 3)
    assert _find_window(a, to_np(out).transpose(1, 2, 0))
    # (left, top, right, bottom) padding and pad_if_needed
    out = T.RandomCrop((8, 9), pad_if_needed=True)(a)
    assert out.shape == (8, 9, 3)
    with pytest.raises(ValueError, match="larger than input"):
        T.RandomCrop(10)(a)
    with pytest.raises(ValueError, match="padding_mode"):
        T.RandomCrop(2, padding_mode="wrap")


def test_random_crop_covers_all_offsets_and_is_seeded():
    a = np.arange(16, dtype=np.uint8).reshape(4, 4)
    ranvier.manual_seed(3)
    firsts = [int(T.RandomCrop(2)(a)[0, 0]) for _ in range(200)]
    assert set(firsts) == {0, 1, 2, 4, 5, 6, 8, 9, 10}
    ranvier.manual_seed(3)
    assert firsts == [int(T.RandomCrop(2)(a)[0, 0]) for _ in range(200)]


def test_random_crop_left_top_right_bottom_padding():
    a = np.ones((2, 2), dtype=np.uint8)
    out = T.RandomCrop((2 + 3, 2 + 5), padding=(1, 2, 4, 1))(a)  # l, t, r, b
    ref = np.pad(a, ((2, 1), (1, 4)))
    np.testing.assert_array_equal(out, ref)


def test_center_crop():
    a = _img(7, 8)
    np.testing.assert_array_equal(T.CenterCrop(4)(a), a[2:6, 2:6])
    np.testing.assert_array_equal(T.CenterCrop((3, 5))(a), a[2:5, 2:7])  # round((7-3)/2)=2
    t = ranvier.from_numpy(a.transpose(2, 0, 1).copy())
    assert_close(T.CenterCrop(4)(t), a[2:6, 2:6].transpose(2, 0, 1))
    big = T.CenterCrop((9, 10))(a)  # larger than the image: zero padding
    assert big.shape == (9, 10, 3)
    np.testing.assert_array_equal(big[1:8, 1:9], a)
    assert big[0].sum() == 0 and big[:, 0].sum() == 0


def test_flips():
    a = _img()
    t = ranvier.from_numpy(a.transpose(2, 0, 1).copy())
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=1.0)(a), a[:, ::-1])
    np.testing.assert_array_equal(T.RandomVerticalFlip(p=1.0)(a), a[::-1])
    assert_close(T.RandomHorizontalFlip(1.0)(t), a[:, ::-1].transpose(2, 0, 1))
    assert_close(T.RandomVerticalFlip(1.0)(t), a[::-1].transpose(2, 0, 1))
    assert T.RandomHorizontalFlip(0.0)(t) is t
    ranvier.manual_seed(0)
    flips = [T.RandomHorizontalFlip(0.3)(a)[0, 0, 0] != a[0, 0, 0] for _ in range(2000)]
    assert abs(np.mean(flips) - 0.3) < 0.04


def test_affine_exact_rotation_and_translation():
    a = np.random.default_rng(0).random((5, 5)).astype(np.float32)
    # +90 degrees counter-clockwise (as displayed) about the center == np.rot90
    out = T.RandomAffine(degrees=(90, 90))(a)
    np.testing.assert_allclose(out, np.rot90(a), atol=1e-6)
    out = T.RandomAffine(degrees=(-90, -90), interpolation="bilinear")(a)
    np.testing.assert_allclose(out, np.rot90(a, -1), atol=1e-6)
    out = T.RandomAffine(degrees=(180, 180))(a)
    np.testing.assert_allclose(out, a[::-1, ::-1], atol=1e-6)
    # translation by exactly +1 column (translate fraction 0.2 of W=5, drawn at the edge)
    m = T.affine_matrix(0.0, (1, 2), 1.0, (0.0, 0.0), (2.0, 2.0))
    out = T.warp_affine(a, m, "nearest", fill=-1.0)
    ref = np.full_like(a, -1.0)
    ref[2:, 1:] = a[:-2, :-1]
    np.testing.assert_array_equal(out, ref)


def test_affine_bilinear_half_pixel_and_scale():
    a = np.random.default_rng(1).random((4, 6, 2))
    m = T.affine_matrix(0.0, (0.5, 0.0), 1.0, (0.0, 0.0), (0.0, 0.0))
    out = T.warp_affine(a, m, "bilinear", fill=0.0)
    ref = np.zeros_like(a)
    ref[:, 1:] = (a[:, :-1] + a[:, 1:]) / 2  # sample halfway between columns
    ref[:, 0] = a[:, 0] / 2                  # half of the fill
    np.testing.assert_allclose(out, ref, atol=1e-12)
    # scale 2 about the center: out(p) = a(center + (p - center) / 2)
    b = np.arange(25, dtype=np.float64).reshape(5, 5)
    out = T.warp_affine(b, T.affine_matrix(0, (0, 0), 2.0, (0, 0), (2.0, 2.0)), "bilinear")
    yy, xx = np.mgrid[0:5, 0:5]
    sy, sx = 2 + (yy - 2) / 2, 2 + (xx - 2) / 2
    np.testing.assert_allclose(out, sy * 5 + sx, atol=1e-12)  # b is linear in (y, x)


def test_affine_shear_and_tensor_layout():
    a = np.random.default_rng(2).random((3, 6, 6)).astype(np.float32)  # CHW tensor
    t = ranvier.from_numpy(a)
    ranvier.manual_seed(0)
    out = T.RandomAffine(degrees=0, shear=(20, 20))(t)
    m = T.affine_matrix(0, (0, 0), 1.0, (20.0, 0.0), (2.5, 2.5))
    ref = np.moveaxis(T.warp_affine(np.moveaxis(a, 0, -1), m, "nearest"), -1, 0)
    assert_close(out, ref)
    # a 45-degree x-shear about (2, 2): row y moves right by (y - 2) pixels
    b = np.random.default_rng(3).random((5, 5))
    sheared = T.warp_affine(b, T.affine_matrix(0, (0, 0), 1.0, (45.0, 0.0), (2.0, 2.0)),
                            "nearest", fill=-1.0)
    ref = np.full_like(b, -1.0)
    for y in range(5):
        for x in range(5):
            if 0 <= x - (y - 2) < 5:
                ref[y, x] = b[y, x - (y - 2)]
    np.testing.assert_allclose(sheared, ref, atol=1e-12)
    with pytest.raises(ValueError, match="interpolation"):
        T.RandomAffine(0, interpolation="cubic")
    with pytest.raises(ValueError, match="scale"):
        T.RandomAffine(0, scale=(0, 1))
    with pytest.raises(ValueError, match="translate"):
        T.RandomAffine(0, translate=(2, 0))


def test_random_affine_params_in_range():
    ra = T.RandomAffine(degrees=10, translate=(0.1, 0.2), scale=(0.9, 1.1), shear=5)
    ranvier.manual_seed(0)
    for _ in range(200):
        ang, (tx, ty), sc, (shx, shy) = ra.get_params((20, 30))
        assert -10 <= ang <= 10 and abs(tx) <= 3 and abs(ty) <= 4
        assert 0.9 <= sc <= 1.1 and -5 <= shx <= 5 and shy == 0


def test_random_erasing():
    x = np.random.default_rng(0).random((3, 10, 12)).astype(np.float32)
    ranvier.manual_seed(1)
    out = to_np(T.RandomErasing(p=1.0, value=(7, 8, 9))(ranvier.from_numpy(x.copy())))
    changed = np.any(out != x, axis=0)
    rows, cols = np.nonzero(changed)
    assert changed.any()
    top, left, bot, right = rows.min(), cols.min(), rows.max(), cols.max()
    assert changed[top:bot + 1, left:right + 1].all()  # one rectangle
    np.testing.assert_array_equal(out[:, top:bot + 1, left:right + 1],
                                  np.broadcast_to(np.array([7, 8, 9], np.float32)[:, None, None],
                                                  (3, bot - top + 1, right - left + 1)))
    area = (bot - top + 1) * (right - left + 1) / 120
    assert 0.02 * 0.5 <= area <= 0.33 * 1.5
    t = ranvier.from_numpy(x.copy())
    assert T.RandomErasing(p=0.0)(t) is t
    t2 = ranvier.from_numpy(x.copy())
    r = T.RandomErasing(p=1.0, value="random", inplace=True)(t2)
    assert r is t2 and not np.array_equal(to_np(t2), x)
    with pytest.raises(ValueError, match="probability"):
        T.RandomErasing(p=2)
    with pytest.raises(ValueError, match="random"):
        T.RandomErasing(value="noise")


def test_gaussian_noise():
    x = np.full((1, 200, 200), 0.5, dtype=np.float32)
    ranvier.manual_seed(0)
    out = to_np(T.GaussianNoise(mean=0.1, sigma=0.05)(ranvier.from_numpy(x)))
    d = out - x
    assert abs(d.mean() - 0.1) < 0.003 and abs(d.std() - 0.05) < 0.003
    out = T.GaussianNoise(sigma=2.0)(np.full((10, 10), 0.5))
    assert out.min() >= 0 and out.max() <= 1 and out.dtype == np.float64
    with pytest.raises(TypeError, match="float"):
        T.GaussianNoise()(np.zeros((2, 2), dtype=np.uint8))
    with pytest.raises(ValueError, match="sigma"):
        T.GaussianNoise(sigma=-1)


def test_rotation_apply_pad():
    a = np.random.default_rng(5).random((5, 5)).astype(np.float32)
    np.testing.assert_allclose(T.RandomRotation((90, 90))(a), np.rot90(a), atol=1e-6)
    with pytest.raises(NotImplementedError, match="expand"):
        T.RandomRotation(10, expand=True)
    t = ranvier.from_numpy(a[None].copy())
    assert_close(T.Pad((1, 2))(t), np.pad(a, ((2, 2), (1, 1)))[None])
    np.testing.assert_array_equal(T.Pad(1, padding_mode="reflect")(a),
                                  np.pad(a, 1, mode="reflect"))
    np.testing.assert_array_equal(T.Pad((1, 0, 2, 3), fill=7)(a),
                                  np.pad(a, ((0, 3), (1, 2)), constant_values=7))
    double = T.RandomApply([T.Lambda(lambda x: x * 2)], p=1.0)
    np.testing.assert_array_equal(double(a), a * 2)
    assert T.RandomApply([T.Lambda(lambda x: x * 2)], p=0.0)(a) is a


def _shift_reference(x, s, fill):
    # independent reference: output sample i takes input sample i - s when that exists
    n = x.shape[-1]
    out = np.full_like(x, fill)
    for i in range(n):
        if 0 <= i - s < n:
            out[..., i] = x[..., i - s]
    return out


def test_random_shift_is_a_shift_within_range_and_covers_it():
    x = np.arange(1, 41, dtype=np.float32)
    t = T.RandomShift(5, fill=-1.0)
    ranvier.manual_seed(0)
    seen = set()
    for _ in range(300):
        out = t(x)
        assert isinstance(out, np.ndarray) and out.dtype == np.float32
        matches = [s for s in range(-5, 6) if np.array_equal(out, _shift_reference(x, s, -1.0))]
        assert len(matches) == 1
        seen.add(matches[0])
    assert seen == set(range(-5, 6))


def test_random_shift_tensors_batches_and_seeding():
    x = ranvier.randn(3, 2, 7)
    t = T.RandomShift(9)  # larger than the signal: everything can be shifted out
    ranvier.manual_seed(4)
    a = [to_np(t(x)) for _ in range(40)]
    ranvier.manual_seed(4)
    b = [to_np(t(x)) for _ in range(40)]
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
        assert u.shape == (3, 2, 7)
        assert any(np.array_equal(u, _shift_reference(to_np(x), s, 0.0)) for s in range(-9, 10))
    assert any(not u.any() for u in a)  # a shift by 7 or more leaves only the fill
    np.testing.assert_array_equal(to_np(T.RandomShift(0)(x)), to_np(x))


def test_random_shift_bad_arguments():
    with pytest.raises(ValueError, match="RandomShift: max_shift"):
        T.RandomShift(-1)
    with pytest.raises(ValueError, match="RandomShift: max_shift"):
        T.RandomShift(1.5)
    with pytest.raises(TypeError, match="RandomShift: expected a signal"):
        T.RandomShift(2)(np.float32(3.0))
