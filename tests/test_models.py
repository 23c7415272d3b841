"""Model registry: every registered model builds, trains a step, saves and reloads; errors are clear."""
from __future__ import annotations

import h5py
import keras
import numpy as np
import pytest

from fer_core.errors import ConfigError
from fer_core.models import (CAM_LAYER, ModelInfo, create_model, find_cam_layer, list_models,
                             model_info)
from fer_core.models.common import adapt_input

ALL_MODELS = list_models()
RNG = np.random.default_rng(0)


@pytest.fixture(autouse=True)
def _fresh_keras_session():
    """Free each test's models (the big backbones hold 100-600 MB with optimizer state)."""
    yield
    keras.backend.clear_session()


def faces(n: int = 2, shape=(48, 48, 1)) -> np.ndarray:
    """Random uint8-valued faces as float32 0..255, shape (n, *shape)."""
    return RNG.integers(0, 256, size=(n, *shape)).astype("float32")


# --- registry ---------------------------------------------------------------------------------

def test_registry_lists_every_family_and_wildcards():
    assert {"baseline_cnn", "five_layer", "cnn_lstm", "fer_net", "vgg16_gru", "densenet121_gru",
            "xception_gru", "resnet50_ft", "senet50_ft", "vgg16_ft"} <= set(ALL_MODELS)
    assert ALL_MODELS == sorted(ALL_MODELS)
    assert list_models("*_gru") == ["densenet121_gru", "vgg16_gru", "xception_gru"]
    assert list_models(family="transfer") == ["resnet50_ft", "senet50_ft", "vgg16_ft"]
    assert list_models("no_such_*") == []


@pytest.mark.parametrize("name", ALL_MODELS)
def test_model_info_is_complete(name):
    info = model_info(name)
    assert isinstance(info, ModelInfo) and info.name == name
    assert info.family in {"cnn", "hybrids", "transfer"}
    assert info.paper and info.description and info.cam_source
    assert info.cam_layer == CAM_LAYER
    assert len(info.input_size) == 2 and min(info.input_size) >= 32
    assert info.imagenet <= info.rgb  # ImageNet backbones all take RGB


def test_unknown_name_lists_close_matches():
    with pytest.raises(ConfigError, match=r"Unknown model 'fernet'.*'fer_net'"):
        create_model("fernet")
    with pytest.raises(ConfigError, match=r"'densenet121_gru'"):
        model_info("densenet_gru")
    with pytest.raises(ConfigError, match=r"Registered models: .*five_layer"):
        create_model("zzz")


# --- every model: build, one training step, save, reload -------------------------------------

def assert_cam_has_gradients(model, x):
    """The CAM layer lies on the path to the logits: Grad-CAM gets a non-zero 4-D gradient."""
    import tensorflow as tf

    grad_model = keras.Model(model.input, [model.get_layer(CAM_LAYER).output,
                                            model.get_layer("logits").output])
    with tf.GradientTape() as tape:
        features, logits = grad_model(x, training=False)
        score = tf.reduce_sum(logits[:, 0])
    grads = tape.gradient(score, features)
    assert grads is not None and len(grads.shape) == 4
    assert float(tf.reduce_max(tf.abs(grads))) > 0


@pytest.mark.slow
@pytest.mark.parametrize("name", ALL_MODELS)
def test_build_train_save_reload(name, tmp_path):
    model = create_model(name, input_shape=(48, 48, 1), num_classes=7)
    assert model.name == name
    cam = model.get_layer(CAM_LAYER)
    assert len(cam.output.shape) == 4 and min(cam.output.shape[1:3]) >= 1
    for seq_name in ("to_sequence", "rows_to_sequence"):  # recurrent models see > 1 step
        if seq_name in [layer.name for layer in model.layers]:
            assert model.get_layer(seq_name).output.shape[1] > 1

    x, y = faces(2), np.array([0, 3])
    before = [w.copy() for w in model.get_weights()]
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="sparse_categorical_crossentropy",
                  run_eagerly=True)  # eager: no graph tracing of the big backbones
    loss = model.train_on_batch(x, y)
    assert np.isfinite(loss)
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))

    probs = keras.ops.convert_to_numpy(model(x, training=False))
    assert probs.shape == (2, 7)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)

    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded = keras.models.load_model(path)  # no custom_objects
    assert loaded.name == name and find_cam_layer(loaded) == CAM_LAYER
    assert len(loaded.get_layer(CAM_LAYER).output.shape) == 4
    reloaded = keras.ops.convert_to_numpy(loaded(x, training=False))
    np.testing.assert_allclose(reloaded, probs, atol=1e-5)
    assert_cam_has_gradients(loaded, x)
    # raw uint8 faces go straight in
    as_uint8 = keras.ops.convert_to_numpy(loaded(x.astype("uint8"), training=False))
    np.testing.assert_allclose(as_uint8, probs, atol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["fer_net", "five_layer", "vgg16_ft", "xception_gru"])
def test_rgb_and_other_sizes_work(name):
    model = create_model(name, input_shape=(40, 56, 3), num_classes=3)
    out = keras.ops.convert_to_numpy(model(faces(2, (40, 56, 3)), training=False))
    assert out.shape == (2, 3)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, atol=1e-5)


# --- input adaptation matches each backbone's own preprocessing ------------------------------

@pytest.mark.parametrize("norm, module", [
    ("caffe", keras.applications.vgg16), ("caffe", keras.applications.resnet50),
    ("torch", keras.applications.densenet), ("tf", keras.applications.xception)])
@pytest.mark.parametrize("channels", [1, 3])
def test_adapter_matches_keras_preprocess_input(norm, module, channels):
    inputs, out = adapt_input((36, 40, channels), norm=norm, rgb=True, min_size=32)
    adapter = keras.Model(inputs, out)
    x = faces(2, (36, 40, channels))
    rgb = np.repeat(x, 3, axis=-1) if channels == 1 else x
    expected = module.preprocess_input(rgb.copy())
    np.testing.assert_allclose(keras.ops.convert_to_numpy(adapter(x)), expected, atol=1e-4)


def test_adapter_resizes_small_inputs_up_only():
    inputs, out = adapt_input((48, 48, 1), norm="tf", rgb=True, min_size=71)
    assert tuple(out.shape[1:]) == (71, 71, 3)
    inputs, out = adapt_input((100, 80, 1), norm="tf", rgb=True, min_size=71)
    assert tuple(out.shape[1:]) == (100, 80, 3)
    inputs, out = adapt_input((48, 48, 1), norm="unit", working_size=64)
    assert tuple(out.shape[1:]) == (64, 64, 1)


# --- argument validation ----------------------------------------------------------------------

@pytest.mark.parametrize("shape, match", [
    ((31, 48, 1), "too small"), ((48, 16, 3), "too small"), ((48, 48, 2), "2 channels"),
    ((48, 48), r"\(height, width, channels\)"), ("48x48", "tuple of 3 ints")])
def test_bad_input_shape_raises_config_error(shape, match):
    with pytest.raises(ConfigError, match=match):
        create_model("five_layer", input_shape=shape)


def test_bad_options_raise_config_error():
    with pytest.raises(ConfigError, match="num_classes"):
        create_model("five_layer", num_classes=1)
    with pytest.raises(ConfigError, match=r"unknown option.*'widht'.*width"):
        create_model("fer_net", widht=16)
    with pytest.raises(ConfigError, match="working_size must be an int >= 71"):
        create_model("xception_gru", working_size=48)


def test_none_overrides_keep_defaults():
    model = create_model("fer_net", input_shape=None, num_classes=None, weights=None,
                         width=None, dropout=None)
    assert tuple(model.input_shape[1:]) == (48, 48, 1) and model.output_shape[-1] == 7
    assert model.get_layer("stage1_conv").filters == 32
    assert create_model("fer_net", width=8).get_layer("stage1_conv").filters == 8


# --- weights ------------------------------------------------------------------------------

def test_imagenet_offline_raises_config_error_naming_a_local_file(monkeypatch):
    from keras.src.utils import file_utils

    def offline(*args, **kwargs):
        raise Exception("URL fetch failure on https://storage.googleapis.com/...: None -- "
                        "[Errno -2] Name or service not known")

    monkeypatch.setattr(file_utils, "get_file", offline)
    with pytest.raises(ConfigError, match=r"could not be downloaded.*weights='/path/to/"
                                          r"vgg16_weights_tf_dim_ordering_tf_kernels_notop\.h5'"):
        create_model("vgg16_ft", input_shape=(32, 32, 1), weights="imagenet")
    with pytest.raises(ConfigError, match="no ImageNet weights for SEResNet50"):
        create_model("senet50_ft", input_shape=(32, 32, 1), weights="imagenet")
    with pytest.raises(ConfigError, match="five_layer has no ImageNet weights"):
        create_model("five_layer", weights="imagenet")


def test_missing_or_wrong_weights_path_raises_config_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        create_model("vgg16_ft", weights=str(tmp_path / "nope.weights.h5"))
    (tmp_path / "w.npz").write_bytes(b"x")
    with pytest.raises(ConfigError, match=r"'\.h5' or '\.weights\.h5'"):
        create_model("five_layer", weights=tmp_path / "w.npz")


def test_local_backbone_weights_load_and_freeze_vgg16(tmp_path):
    reference = keras.applications.VGG16(include_top=False, weights=None, input_shape=(32, 32, 3))
    path = tmp_path / "vgg16_notop.weights.h5"
    reference.save_weights(path)
    model = create_model("vgg16_ft", input_shape=(32, 32, 1), weights=str(path))
    for layer_name in ("block1_conv1", "block5_conv3"):
        np.testing.assert_array_equal(model.get_layer(layer_name).get_weights()[0],
                                      reference.get_layer(layer_name).get_weights()[0])
    vgg_layers = [layer for layer in reference.layers if layer.weights]
    assert all(not model.get_layer(layer.name).trainable for layer in vgg_layers)
    assert model.get_layer("fc1").trainable and model.get_layer("logits").trainable
    # from scratch everything trains; freeze=False keeps a pretrained backbone trainable
    assert all(layer.trainable for layer in create_model("vgg16_ft", input_shape=(32, 32, 1)).layers)
    unfrozen = create_model("vgg16_ft", input_shape=(32, 32, 1), weights=str(path), freeze=False)
    assert unfrozen.get_layer("block1_conv1").trainable
    # the same file serves the hybrid, which fine-tunes its backbone whole
    hybrid = create_model("vgg16_gru", input_shape=(32, 32, 1), weights=str(path))
    np.testing.assert_array_equal(hybrid.get_layer("block3_conv2").get_weights()[0],
                                  reference.get_layer("block3_conv2").get_weights()[0])
    assert hybrid.get_layer("block3_conv2").trainable


def test_legacy_h5_backbone_weights_freeze_first_170_resnet50_layers(tmp_path):
    """Keras's own ImageNet files are legacy .h5; ResNet50 freezes its first 170 layers."""
    from keras.src.legacy.saving import legacy_h5_format

    reference = keras.applications.ResNet50(include_top=False, weights=None,
                                            input_shape=(32, 32, 3))
    path = tmp_path / "resnet50_notop.h5"
    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, reference)
    model = create_model("resnet50_ft", input_shape=(32, 32, 1), weights=str(path))
    np.testing.assert_array_equal(model.get_layer("conv5_block3_3_conv").get_weights()[0],
                                  reference.get_layer("conv5_block3_3_conv").get_weights()[0])
    # reference.layers[0] is its InputLayer (counted among the 170; ours is called "image")
    frozen = [not model.get_layer(layer.name).trainable for layer in reference.layers[1:]]
    assert frozen == [True] * 169 + [False] * (len(reference.layers) - 170)
    assert model.get_layer("fc1").trainable
    # a ResNet50 file does not fit VGG16
    with pytest.raises(ConfigError, match="could not load backbone weights"):
        create_model("vgg16_ft", input_shape=(32, 32, 1), weights=str(path))


def test_own_cnn_weights_file_roundtrip_and_mismatch(tmp_path):
    trained = create_model("five_layer")
    path = tmp_path / "five_layer.weights.h5"
    trained.save_weights(path)
    again = create_model("five_layer", weights=str(path))
    x = faces(2)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(again(x)),
                               keras.ops.convert_to_numpy(trained(x)), atol=1e-6)
    with pytest.raises(ConfigError, match="could not load weights"):
        create_model("fer_net", weights=str(path))
    with pytest.raises(ConfigError, match="could not load weights"):
        create_model("five_layer", num_classes=3, weights=str(path))


def test_find_cam_layer_falls_back_to_last_4d_output():
    inputs = keras.Input((32, 32, 1))
    x = keras.layers.Conv2D(4, 3, name="conv_a")(inputs)
    x = keras.layers.Conv2D(4, 3, name="conv_b")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    plain = keras.Model(inputs, keras.layers.Dense(2)(x))
    assert find_cam_layer(plain) == "conv_b"


def test_fer_net_deep_makes_the_first_two_stages_residual_pairs():
    plain, deep = create_model("fer_net", width=8), create_model("fer_net", width=8, deep=True)
    convs = [sum(isinstance(layer, keras.layers.Conv2D) for layer in m.layers) for m in (plain, deep)]
    assert convs == [6, 8] and deep.output_shape == plain.output_shape
    assert deep.get_layer("stage2a_conv").filters == 16 and isinstance(deep.get_layer("stage1_add"), keras.layers.Add)
    assert plain.count_params() < deep.count_params() < 1.1 * plain.count_params()
