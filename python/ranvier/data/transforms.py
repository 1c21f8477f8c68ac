"""Image transforms for ranvier.data: Compose, ToTensor, Normalize, Lambda, RandomCrop,
CenterCrop, RandomHorizontalFlip, RandomVerticalFlip, RandomAffine, RandomErasing,
GaussianNoise; and RandomShift for 1-D signals. Layout convention: tensors are (..., C, H, W) (or (..., H, W)); NumPy images are
HWC or HW, like PIL. Every transform returns the same kind it was given.

Randomness is drawn from ranvier generators: inside a DataLoader from the per-batch generator
(Note [Loader randomness] in _worker.py), elsewhere from ranvier's global generator, so
ranvier.manual_seed makes augmentation reproducible."""
import math
import numbers

import ranvier
from ranvier.data._worker import current_generator

__all__ = ["Compose", "ToTensor", "Normalize", "Lambda", "RandomCrop", "CenterCrop",
           "RandomHorizontalFlip", "RandomVerticalFlip", "RandomAffine", "RandomErasing",
           "GaussianNoise", "InterpolationMode", "RandomRotation", "RandomApply", "Pad",
           "RandomShift"]


class InterpolationMode:
    NEAREST = "nearest"
    BILINEAR = "bilinear"


# ---- helpers ----
def _uniform(a, b):
    return a + (b - a) * float(ranvier.rand(1, dtype=ranvier.float64,
                                            generator=current_generator()).item())


def _randint(low, high):
    """An integer in [low, high)."""
    return int(ranvier.randint(low, high, (1,), generator=current_generator()).item())


def _coin(p):
    return float(ranvier.rand(1, generator=current_generator()).item()) < p


def _is_tensor(x):
    return isinstance(x, ranvier.Tensor)


def _np():
    import numpy
    return numpy


def _as_array(img, name):
    """(array, is_tensor): a NumPy view/copy of img. NumPy/PIL-like inputs are HWC or HW."""
    if _is_tensor(img):
        t = img.detach()
        if t.dtype == ranvier.bfloat16:
            raise TypeError(f"{name}: bfloat16 tensors are not supported")
        return t.contiguous().numpy(), True
    np = _np()
    a = np.asarray(img)
    if a.ndim not in (2, 3):
        raise TypeError(f"{name}: expected a tensor or an HW / HWC image, got array of shape "
                        f"{a.shape}")
    return a, False


def _back(a, is_tensor):
    if is_tensor:
        return ranvier.from_numpy(_np().ascontiguousarray(a))
    return a


def _hw(a, is_tensor):
    """(H, W) of an array in its layout."""
    if is_tensor:
        if a.ndim < 2:
            raise ValueError(f"expected a tensor with at least 2 dimensions, got shape {a.shape}")
        return a.shape[-2], a.shape[-1]
    return a.shape[0], a.shape[1]


def _spatial(a, is_tensor):
    """Moves the H, W axes of a to the front: (H, W, rest...)."""
    np = _np()
    return np.moveaxis(a, (-2, -1), (0, 1)) if is_tensor else a


def _unspatial(a, is_tensor):
    np = _np()
    return np.moveaxis(a, (0, 1), (-2, -1)) if is_tensor else a


def _size_pair(size, name):
    if isinstance(size, numbers.Number):
        return int(size), int(size)
    size = tuple(size)
    if len(size) == 1:
        return int(size[0]), int(size[0])
    if len(size) != 2:
        raise ValueError(f"{name}: size should be an int or a sequence of 1 or 2 ints, got "
                         f"{size}")
    return int(size[0]), int(size[1])


def _pad(a, is_tensor, left, top, right, bottom, fill, mode):
    np = _np()
    s = _spatial(a, is_tensor)
    widths = [(top, bottom), (left, right)] + [(0, 0)] * (s.ndim - 2)
    if mode == "constant":
        s = np.pad(s, widths, mode="constant", constant_values=fill)
    elif mode in ("edge", "reflect", "symmetric"):
        s = np.pad(s, widths, mode=mode)
    else:
        raise ValueError("padding_mode should be constant, edge, reflect or symmetric, got "
                         f"{mode!r}")
    return _unspatial(s, is_tensor)


def _crop(a, is_tensor, top, left, h, w):
    if is_tensor:
        return a[..., top:top + h, left:left + w]
    return a[top:top + h, left:left + w]


# ---- transforms ----
class Compose:
    """Applies transforms in order."""

    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, img):
        for t in self.transforms:
            img = t(img)
        return img

    def __repr__(self):
        inner = "".join(f"\n    {t}" for t in self.transforms)
        return f"{type(self).__name__}({inner}\n)"


class ToTensor:
    """HWC (or HW) image, NumPy or PIL-like, -> CHW tensor; uint8 is scaled to float32 in
    [0, 1], other dtypes keep their values (float64 stays float64). HW gives 1 x H x W."""

    def __call__(self, pic):
        if _is_tensor(pic):
            raise TypeError("ToTensor: expected a NumPy array or PIL-like image, got a Tensor")
        np = _np()
        a = np.asarray(pic)
        if a.ndim == 2:
            a = a[:, :, None]
        if a.ndim != 3:
            raise ValueError(f"ToTensor: expected an HW or HWC image, got array of shape "
                             f"{a.shape}")
        a = np.ascontiguousarray(a.transpose(2, 0, 1))
        if a.dtype == np.uint8:
            return ranvier.from_numpy(a.astype(np.float32) / np.float32(255))
        if a.dtype == np.bool_:
            return ranvier.from_numpy(a.astype(np.float32))
        if a.dtype.kind not in "fiu":
            raise TypeError(f"ToTensor: unsupported array dtype {a.dtype}")
        return ranvier.from_numpy(a)

    def __repr__(self):
        return "ToTensor()"


class Normalize:
    """(x - mean[c]) / std[c] per channel of a float (..., C, H, W) tensor."""

    def __init__(self, mean, std, inplace=False):
        self.mean, self.std, self.inplace = mean, std, inplace

    def __call__(self, tensor):
        if not _is_tensor(tensor):
            raise TypeError(f"Normalize: expected a tensor, got {type(tensor).__name__}")
        if not tensor.is_floating_point():
            raise TypeError(f"Normalize: input tensor should be a float tensor, got "
                            f"{tensor.dtype}")
        if tensor.dim() < 3:
            raise ValueError("Normalize: expected a tensor image of size (..., C, H, W), got "
                             f"shape {tuple(tensor.shape)}")
        np = _np()
        mean = np.asarray(self.mean, dtype=np.float64).reshape(-1)
        std = np.asarray(self.std, dtype=np.float64).reshape(-1)
        if np.any(std == 0):
            raise ValueError(f"Normalize: std evaluated to zero after conversion to "
                             f"{tensor.dtype}, leading to division by zero")
        c = tensor.shape[-3]
        for name, v in (("mean", mean), ("std", std)):
            if v.size not in (1, c):
                raise ValueError(f"Normalize: {name} has {v.size} values for {c} channels")
        m = ranvier.tensor(mean, dtype=tensor.dtype).reshape(-1, 1, 1)
        s = ranvier.tensor(std, dtype=tensor.dtype).reshape(-1, 1, 1)
        if self.inplace:
            with ranvier.no_grad():
                return tensor.sub_(m).div_(s)
        return (tensor - m) / s

    def __repr__(self):
        return f"Normalize(mean={self.mean}, std={self.std})"


class Lambda:
    """Wraps a user function as a transform."""

    def __init__(self, lambd):
        if not callable(lambd):
            raise TypeError(f"Lambda: argument should be callable, got {type(lambd).__name__}")
        self.lambd = lambd

    def __call__(self, img):
        return self.lambd(img)


def _parse_padding(padding):
    if isinstance(padding, numbers.Number):
        p = int(padding)
        return p, p, p, p
    padding = tuple(int(x) for x in padding)
    if len(padding) == 1:
        return padding * 4
    if len(padding) == 2:
        return padding[0], padding[1], padding[0], padding[1]
    if len(padding) == 4:
        return padding
    raise ValueError(f"padding must be an int or a sequence of 1, 2 or 4 ints, got {padding}")


class RandomCrop:
    """A random size[0] x size[1] window, after optional padding (left, top, right, bottom)."""

    def __init__(self, size, padding=None, pad_if_needed=False, fill=0, padding_mode="constant"):
        self.size = _size_pair(size, "RandomCrop")
        self.padding = None if padding is None else _parse_padding(padding)
        self.pad_if_needed, self.fill, self.padding_mode = pad_if_needed, fill, padding_mode
        if padding_mode not in ("constant", "edge", "reflect", "symmetric"):
            raise ValueError("RandomCrop: padding_mode should be constant, edge, reflect or "
                             f"symmetric, got {padding_mode!r}")

    def __call__(self, img):
        a, is_t = _as_array(img, "RandomCrop")
        if self.padding is not None:
            a = _pad(a, is_t, *self.padding, self.fill, self.padding_mode)
        th, tw = self.size
        h, w = _hw(a, is_t)
        if self.pad_if_needed and w < tw:
            a = _pad(a, is_t, tw - w, 0, tw - w, 0, self.fill, self.padding_mode)
        h, w = _hw(a, is_t)
        if self.pad_if_needed and h < th:
            a = _pad(a, is_t, 0, th - h, 0, th - h, self.fill, self.padding_mode)
        h, w = _hw(a, is_t)
        if h < th or w < tw:
            raise ValueError(f"RandomCrop: required crop size {(th, tw)} is larger than input "
                             f"image size {(h, w)}")
        top = _randint(0, h - th + 1)
        left = _randint(0, w - tw + 1)
        return _back(_crop(a, is_t, top, left, th, tw), is_t)


class CenterCrop:
    """The central size[0] x size[1] window (zero padding when the image is smaller)."""

    def __init__(self, size):
        self.size = _size_pair(size, "CenterCrop")

    def __call__(self, img):
        a, is_t = _as_array(img, "CenterCrop")
        th, tw = self.size
        h, w = _hw(a, is_t)
        if th > h or tw > w:
            pl, pt = max(tw - w, 0) // 2, max(th - h, 0) // 2
            a = _pad(a, is_t, pl, pt, max(tw - w, 0) - pl, max(th - h, 0) - pt, 0, "constant")
            h, w = _hw(a, is_t)
        top = int(round((h - th) / 2.0))
        left = int(round((w - tw) / 2.0))
        return _back(_crop(a, is_t, top, left, th, tw), is_t)


class RandomHorizontalFlip:
    """Mirrors left-right with probability p."""

    def __init__(self, p=0.5):
        self.p = p

    def __call__(self, img):
        if not _coin(self.p):
            return img
        a, is_t = _as_array(img, "RandomHorizontalFlip")
        return _back(a[..., ::-1] if is_t else a[:, ::-1], is_t)


class RandomVerticalFlip:
    """Mirrors top-bottom with probability p."""

    def __init__(self, p=0.5):
        self.p = p

    def __call__(self, img):
        if not _coin(self.p):
            return img
        a, is_t = _as_array(img, "RandomVerticalFlip")
        return _back(a[..., ::-1, :] if is_t else a[::-1], is_t)


def _range(v, name, center=0.0):
    if isinstance(v, numbers.Number):
        if v < 0:
            raise ValueError(f"{name}: a single value must be non-negative, got {v}")
        return (center - v, center + v)
    v = tuple(float(x) for x in v)
    if len(v) != 2:
        raise ValueError(f"{name}: expected a number or a pair, got {v}")
    return v


def affine_matrix(angle, translate, scale, shear, center):
    """The 2x3 forward map (x, y) -> (x', y') in pixel coordinates (x right, y down): about
    `center`, shear (degrees, x then y), scale, rotate by `angle` degrees counter-clockwise as
    seen on screen, then translate."""
    np = _np()
    a = math.radians(angle)
    sx, sy = math.radians(shear[0]), math.radians(shear[1])
    rot = np.array([[math.cos(a), math.sin(a)], [-math.sin(a), math.cos(a)]])
    sh = np.array([[1.0, math.tan(sx)], [math.tan(sy), 1.0]])
    lin = rot @ sh * scale
    cx, cy = center
    off = np.array([cx + translate[0], cy + translate[1]]) - lin @ np.array([cx, cy])
    return np.concatenate([lin, off[:, None]], axis=1)


def warp_affine(s, matrix, interpolation="nearest", fill=0.0):
    """Resamples s (H, W, rest...) so that out[y', x'] = s at the inverse image of (x', y')
    under the 2x3 forward `matrix`; points outside the input take `fill`."""
    np = _np()
    h, w = s.shape[:2]
    lin, off = matrix[:, :2], matrix[:, 2]
    inv = np.linalg.inv(lin)
    ys, xs = np.meshgrid(np.arange(h, dtype=np.float64), np.arange(w, dtype=np.float64),
                         indexing="ij")
    px, py = xs - off[0], ys - off[1]
    src_x = inv[0, 0] * px + inv[0, 1] * py
    src_y = inv[1, 0] * px + inv[1, 1] * py
    rest = s.shape[2:]
    out_dtype = s.dtype
    if interpolation == "nearest":
        xi = np.floor(src_x + 0.5).astype(np.int64)
        yi = np.floor(src_y + 0.5).astype(np.int64)
        inside = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
        out = np.empty((h, w) + rest, dtype=out_dtype)
        out[...] = np.asarray(fill).astype(out_dtype)
        out[inside] = s[yi[inside], xi[inside]]
        return out
    if interpolation != "bilinear":
        raise ValueError(f"interpolation must be 'nearest' or 'bilinear', got {interpolation!r}")
    x0 = np.floor(src_x).astype(np.int64)
    y0 = np.floor(src_y).astype(np.int64)
    fx, fy = src_x - x0, src_y - y0
    sf = s.astype(np.float64)
    acc = np.zeros((h, w) + rest, dtype=np.float64)
    for dy, dx, wt in ((0, 0, (1 - fy) * (1 - fx)), (0, 1, (1 - fy) * fx),
                       (1, 0, fy * (1 - fx)), (1, 1, fy * fx)):
        xx, yy = x0 + dx, y0 + dy
        inside = (xx >= 0) & (xx < w) & (yy >= 0) & (yy < h)
        vals = np.empty((h, w) + rest, dtype=np.float64)
        vals[...] = np.asarray(fill, dtype=np.float64)
        vals[inside] = sf[yy[inside], xx[inside]]
        wt = wt.reshape(wt.shape + (1,) * len(rest))
        acc += wt * vals
    if np.issubdtype(out_dtype, np.integer):
        info = np.iinfo(out_dtype)
        acc = np.clip(np.floor(acc + 0.5), info.min, info.max)
    return acc.astype(out_dtype)


class RandomAffine:
    """Random rotation (degrees), translation (fractions of W, H), scale and shear, sampled
    with nearest or bilinear interpolation about the image center; outside points get fill."""

    def __init__(self, degrees, translate=None, scale=None, shear=None,
                 interpolation=InterpolationMode.NEAREST, fill=0, center=None):
        self.degrees = _range(degrees, "RandomAffine degrees")
        if translate is not None:
            translate = tuple(float(t) for t in translate)
            if len(translate) != 2 or not all(0.0 <= t <= 1.0 for t in translate):
                raise ValueError("RandomAffine: translate should be two fractions in [0, 1], got "
                                 f"{translate}")
        if scale is not None:
            scale = tuple(float(s) for s in scale)
            if len(scale) != 2 or any(s <= 0 for s in scale):
                raise ValueError(f"RandomAffine: scale values should be positive, got {scale}")
        if shear is not None:
            if isinstance(shear, numbers.Number):
                shear = _range(shear, "RandomAffine shear")
            shear = tuple(float(s) for s in shear)
            if len(shear) not in (2, 4):
                raise ValueError("RandomAffine: shear should be a number or a sequence of 2 or 4 "
                                 f"values, got {shear}")
        if interpolation not in ("nearest", "bilinear"):
            raise ValueError("RandomAffine: interpolation must be 'nearest' or 'bilinear', got "
                             f"{interpolation!r}")
        self.translate, self.scale, self.shear = translate, scale, shear
        self.interpolation, self.fill, self.center = interpolation, fill, center

    def get_params(self, img_size):
        """(angle, (tx, ty), scale, (shear_x, shear_y)) for an image of size (H, W)."""
        h, w = img_size
        angle = _uniform(*self.degrees)
        if self.translate is not None:
            tx = int(round(_uniform(-self.translate[0] * w, self.translate[0] * w)))
            ty = int(round(_uniform(-self.translate[1] * h, self.translate[1] * h)))
        else:
            tx = ty = 0
        sc = _uniform(*self.scale) if self.scale is not None else 1.0
        shx = shy = 0.0
        if self.shear is not None:
            shx = _uniform(self.shear[0], self.shear[1])
            if len(self.shear) == 4:
                shy = _uniform(self.shear[2], self.shear[3])
        return angle, (tx, ty), sc, (shx, shy)

    def __call__(self, img):
        a, is_t = _as_array(img, "RandomAffine")
        h, w = _hw(a, is_t)
        angle, tr, sc, sh = self.get_params((h, w))
        center = self.center if self.center is not None else ((w - 1) / 2.0, (h - 1) / 2.0)
        m = affine_matrix(angle, tr, sc, sh, center)
        out = warp_affine(_spatial(a, is_t), m, self.interpolation, self.fill)
        return _back(_unspatial(out, is_t), is_t)


class RandomErasing:
    """With probability p, sets a random rectangle of a (..., C, H, W) tensor to `value` (a
    number, a per-channel sequence, or 'random' for standard normal noise)."""

    def __init__(self, p=0.5, scale=(0.02, 0.33), ratio=(0.3, 3.3), value=0, inplace=False):
        if not 0 <= p <= 1:
            raise ValueError(f"RandomErasing: probability should be between 0 and 1, got {p}")
        if scale[0] > scale[1] or ratio[0] > ratio[1]:
            raise ValueError("RandomErasing: scale and ratio should be of kind (min, max)")
        if scale[0] < 0 or scale[1] > 1:
            raise ValueError("RandomErasing: scale should be between 0 and 1")
        if isinstance(value, str) and value != "random":
            raise ValueError("RandomErasing: if value is a str, it should be 'random'")
        self.p, self.scale, self.ratio, self.value, self.inplace = p, scale, ratio, value, inplace

    def get_params(self, shape):
        """(top, left, h, w) of the rectangle, or None when no attempt fits."""
        c, img_h, img_w = shape[-3], shape[-2], shape[-1]
        area = img_h * img_w
        log_ratio = (math.log(self.ratio[0]), math.log(self.ratio[1]))
        for _ in range(10):
            erase_area = area * _uniform(*self.scale)
            aspect = math.exp(_uniform(*log_ratio))
            h = int(round(math.sqrt(erase_area * aspect)))
            w = int(round(math.sqrt(erase_area / aspect)))
            if not (h < img_h and w < img_w):
                continue
            top = _randint(0, img_h - h + 1)
            left = _randint(0, img_w - w + 1)
            return top, left, h, w
        return None

    def __call__(self, img):
        if not _coin(self.p):
            return img
        a, is_t = _as_array(img, "RandomErasing")
        np = _np()
        if not is_t:
            a = np.moveaxis(a if a.ndim == 3 else a[:, :, None], -1, 0)
        if a.ndim < 3:
            raise ValueError("RandomErasing: expected a (..., C, H, W) image, got shape "
                             f"{a.shape}")
        box = self.get_params(a.shape)
        if box is None:
            return img
        top, left, h, w = box
        out = a if (self.inplace and not is_t) else a.copy()
        region = out[..., top:top + h, left:left + w]
        if self.value == "random":
            noise = ranvier.randn(*region.shape, dtype=ranvier.float32,
                                  generator=current_generator()).numpy()
            region[...] = noise.astype(out.dtype)
        else:
            v = np.asarray(self.value, dtype=np.float64).reshape(-1)
            if v.size not in (1, out.shape[-3]):
                raise ValueError(f"RandomErasing: value has {v.size} entries for "
                                 f"{out.shape[-3]} channels")
            region[...] = v.reshape(-1, 1, 1).astype(out.dtype)
        if is_t:
            if self.inplace:
                with ranvier.no_grad():
                    img.copy_(ranvier.from_numpy(out))
                return img
            return ranvier.from_numpy(out)
        out = np.moveaxis(out, 0, -1)
        return out if np.asarray(img).ndim == 3 else out[:, :, 0]


class GaussianNoise:
    """Adds N(mean, sigma^2) noise to a float image; clip=True keeps values in [0, 1]."""

    def __init__(self, mean=0.0, sigma=0.1, clip=True):
        if sigma < 0:
            raise ValueError(f"GaussianNoise: sigma shouldn't be negative, got {sigma}")
        self.mean, self.sigma, self.clip = mean, sigma, clip

    def __call__(self, img):
        a, is_t = _as_array(img, "GaussianNoise")
        np = _np()
        if not np.issubdtype(a.dtype, np.floating):
            raise TypeError(f"GaussianNoise: input should be a float image, got {a.dtype}")
        noise = ranvier.randn(*a.shape, dtype=ranvier.float64,
                              generator=current_generator()).numpy()
        out = a + (self.mean + self.sigma * noise)
        if self.clip:
            out = np.clip(out, 0.0, 1.0)
        return _back(out.astype(a.dtype), is_t)


class RandomShift:
    """Shifts a signal along its last axis by a whole number of samples drawn uniformly from
    [-max_shift, max_shift]; the samples shifted in take `fill`. For 1-D data such as
    MNIST-1D rows (tensors or NumPy arrays of any rank >= 1; returns the same kind)."""

    def __init__(self, max_shift, fill=0.0):
        if int(max_shift) != max_shift or max_shift < 0:
            raise ValueError(f"RandomShift: max_shift should be a non-negative integer, got "
                             f"{max_shift!r}")
        self.max_shift, self.fill = int(max_shift), fill

    def __call__(self, signal):
        np = _np()
        is_t = _is_tensor(signal)
        a = signal.detach().contiguous().numpy() if is_t else np.asarray(signal)
        if a.ndim < 1:
            raise TypeError(f"RandomShift: expected a signal with at least one axis, got shape "
                            f"{tuple(a.shape)}")
        s = _randint(-self.max_shift, self.max_shift + 1)
        n = a.shape[-1]
        out = np.full_like(a, self.fill)
        if abs(s) < n:
            if s >= 0:
                out[..., s:] = a[..., :n - s]
            else:
                out[..., :n + s] = a[..., -s:]
        return _back(out, is_t)

    def __repr__(self):
        return f"RandomShift(max_shift={self.max_shift}, fill={self.fill})"


class RandomRotation(RandomAffine):
    """RandomAffine with rotation only: an angle uniform in degrees ((-d, d) for a number)."""

    def __init__(self, degrees, interpolation=InterpolationMode.NEAREST, expand=False,
                 center=None, fill=0):
        if expand:
            raise NotImplementedError("RandomRotation: expand=True is not supported")
        super().__init__(degrees, interpolation=interpolation, fill=fill, center=center)


class RandomApply:
    """Applies the list of transforms, in order, with probability p (all or none)."""

    def __init__(self, transforms, p=0.5):
        self.transforms, self.p = list(transforms), p

    def __call__(self, img):
        if not _coin(self.p):
            return img
        for t in self.transforms:
            img = t(img)
        return img


class Pad:
    """Pads the image borders: padding int, (left/right, top/bottom) or (l, t, r, b)."""

    def __init__(self, padding, fill=0, padding_mode="constant"):
        self.padding = _parse_padding(padding)
        if padding_mode not in ("constant", "edge", "reflect", "symmetric"):
            raise ValueError("Pad: padding_mode should be constant, edge, reflect or symmetric, "
                             f"got {padding_mode!r}")
        self.fill, self.padding_mode = fill, padding_mode

    def __call__(self, img):
        a, is_t = _as_array(img, "Pad")
        return _back(_pad(a, is_t, *self.padding, self.fill, self.padding_mode), is_t)
