"""Tensor.item(): the one element as a Python number of the right kind, read in place from any
view (offset, strides), for every dtype; a clear error for more or fewer than one element."""
import numpy as np
import pytest

import ranvier

CASES = [(ranvier.float32, np.float32, float), (ranvier.float64, np.float64, float),
         (ranvier.float16, np.float16, float), (ranvier.int64, np.int64, int),
         (ranvier.int32, np.int32, int), (ranvier.uint8, np.uint8, int)]


@pytest.mark.parametrize("dt,npdt,kind", CASES)
def test_item_reads_the_element_of_a_strided_view(dt, npdt, kind):
    values = np.array([1.25, 7.5, 250.0, 3.0, 12.0, 100.0], dtype=np.float64)
    t = ranvier.tensor(values.tolist()).to(dt)
    view = t[1:].view(5)[::2]  # elements 1, 3, 5 of t: an offset and a stride
    for i, j in enumerate((1, 3, 5)):
        got = view[i].item()
        assert type(got) is kind
        assert got == values.astype(npdt)[j].item()
    assert ranvier.tensor([[2.5]]).item() == 2.5  # any shape with one element


def test_item_bfloat16_bool_and_grad():
    assert ranvier.tensor([1.0 + 2 ** -7]).to(ranvier.bfloat16).item() == 1.0078125
    assert ranvier.tensor([3.0 + 2 ** -8]).to(ranvier.bfloat16).item() == 3.0  # rounded
    b = ranvier.tensor([False, True])[1]
    assert b.item() is True
    w = ranvier.tensor([0.5], requires_grad=True)
    assert (w * 4).item() == 2.0


@pytest.mark.parametrize("shape", [(2,), (0,), (1, 3)])
def test_item_needs_exactly_one_element(shape):
    with pytest.raises(RuntimeError, match=r"a Tensor with \d+ elements cannot be converted"):
        ranvier.zeros(shape).item()
