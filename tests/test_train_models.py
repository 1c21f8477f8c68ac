"""The models of `python -m ranvier.train`: output shapes for each kind of data, the MNIST-1D
architectures' parameter counts (computed here from the layer sizes of the paper), and the
errors for a model that does not fit the data."""
import pytest

import ranvier as rv
from ranvier.train.data import DataInfo
from ranvier.train.models import build_model

SIGNAL = DataInfo("signal", (40,), 10)
IMAGE1 = DataInfo("image", (1, 28, 28), 10)
IMAGE3 = DataInfo("image", (3, 32, 32), 10)
TEXT = DataInfo("text", vocab=17, context=12)


def count(model):
    return sum(p.numel() for p in model.parameters())


def linear(i, o):
    return i * o + o


def conv(i, o, k):
    return i * o * k + o


@pytest.mark.parametrize("name", ["mlp", "cnn", "gru", "lstm"])
def test_signal_models_give_logits(name):
    rv.manual_seed(0)
    out = build_model(name, SIGNAL)(rv.randn(5, 40))
    assert tuple(out.shape) == (5, 10)


@pytest.mark.parametrize("info", [IMAGE1, IMAGE3], ids=["28x28x1", "32x32x3"])
@pytest.mark.parametrize("name", ["mlp", "cnn", "resnet", "gru", "lstm"])
def test_image_models_give_logits(name, info):
    rv.manual_seed(0)
    model = build_model(name, info)
    model.eval()
    out = model(rv.randn(2, *info.shape))
    assert tuple(out.shape) == (2, 10)


@pytest.mark.parametrize("name", ["gru", "lstm", "gpt"])
def test_text_models_give_logits_per_step(name):
    rv.manual_seed(0)
    out = build_model(name, TEXT)(rv.randint(0, 17, (3, 12)))
    assert tuple(out.shape) == (3, 12, 17)


def test_mnist1d_parameter_counts_match_the_paper_architectures():
    # MLP 40-100-100-10; CNN conv(1,25,5) conv(25,25,3) conv(25,25,3) on 40 samples -> 25x5,
    # linear(125, 10); GRU(1, 6) bidirectional read out from all 40 steps.
    assert count(build_model("mlp", SIGNAL)) == linear(40, 100) + linear(100, 100) + linear(100, 10)
    assert count(build_model("cnn", SIGNAL)) == (conv(1, 25, 5) + 2 * conv(25, 25, 3)
                                                 + linear(125, 10))
    gru_dir = 3 * (6 * 1 + 6 * 6 + 6 + 6)  # W_ih, W_hh, b_ih, b_hh for three gates
    assert count(build_model("gru", SIGNAL)) == 2 * gru_dir + linear(2 * 6 * 40, 10)


def test_resnet20_has_its_published_size():
    # ResNet-20 for CIFAR-10 has about 0.27 M parameters (He et al. 2016, table 6).
    n = count(build_model("resnet", IMAGE3))
    assert 0.26e6 < n < 0.28e6


@pytest.mark.parametrize("name,info,match", [
    ("gpt", SIGNAL, "text"), ("resnet", SIGNAL, "images"), ("cnn", TEXT, "does not take text"),
    ("transformer9", SIGNAL, "unknown model")])
def test_model_data_mismatch_is_a_clear_error(name, info, match):
    with pytest.raises(ValueError, match=match):
        build_model(name, info)
