"""Line-by-line MNIST data: IDX files, the offline split, tensorflow-datasets, tf.data.

Images are float32 `[n, 28, 28]` in [0, 1]; each row is one time step. The
pixel-by-pixel variant (`variant="p"`, the published `reshape_image(variant="p")`)
feeds one pixel per step of a 24x24 image: 576 steps of 1 value.
"""

import gzip
import os
from importlib import resources

import numpy as np

from gfr_keras.errors import InputError, InvalidParameterError, check_finite_number

OFFLINE_MNIST_DIR = resources.files("gfr_keras") / "resources" / "mnist"
#: md5 of the official files (yann.lecun.com), checked against the shipped copies in the tests.
OFFICIAL_MD5 = {
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
#: The published `get_MNIST_data_loaders(variant="p")` resizes to 24x24 (torchvision `Resize` on PIL images).
PIXEL_IMAGE_SIZE = 24
VARIANTS = ("l", "p")
OFFLINE_LABEL = "offline: MNIST test split (10,000 digits) as 8,000 train / 2,000 test"
_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path):
    """An IDX file (plain or gzipped) as a numpy array; errors name the file."""
    path = os.fspath(path)
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as handle:
            raw = handle.read()
    except OSError as error:
        raise ValueError(f"{path}: cannot read it ({error})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise ValueError(f"{path}: not an IDX file (bad magic number)")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    body = raw[4 + 4 * ndim :]
    expected = int(np.prod(dims)) * dtype.itemsize
    if len(body) != expected:
        raise ValueError(f"{path}: truncated or padded: {len(body)} data bytes, expected {expected} for shape {dims}")
    return np.frombuffer(body, dtype=dtype).reshape(dims)


def _find(data_dir, stem):
    for name in (stem, stem + ".gz"):
        path = os.path.join(data_dir, name)
        if os.path.exists(path):
            return path
    return None


def load_idx_folder(data_dir):
    """`{"train": (images, labels), "test": (images, labels)}` from a folder in MNIST's IDX layout.

    Fashion-MNIST and KMNIST come in the same layout. Errors name the missing files.
    """
    stems = {
        "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
        "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
    }
    found = {split: [_find(data_dir, s) for s in pair] for split, pair in stems.items()}
    missing = [s + "[.gz]" for split, pair in stems.items() for s, f in zip(pair, found[split]) if f is None]
    if missing:
        raise InputError(
            f"data_dir: {data_dir}: missing {', '.join(missing)}", parameter="data_dir", path=data_dir
        )
    return {split: _images_and_labels(*paths) for split, paths in found.items()}


def _images_and_labels(images_path, labels_path):
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ValueError(f"{images_path}: expected images of shape [n, 28, 28], got {list(images.shape)}")
    if labels.shape != images.shape[:1]:
        raise ValueError(f"{labels_path}: {labels.shape[0]} labels for {images.shape[0]} images")
    return validate_images(images, images_path), labels.astype(np.int64)


def validate_images(images, name="images"):
    """uint8 images become float32 in [0, 1]; float images must already be in [0, 1]."""
    images = np.asarray(images)
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ValueError(f"{name}: expected shape [n, 28, 28], got {list(images.shape)}")
    if images.dtype == np.uint8:
        return images.astype(np.float32) / 255.0
    images = images.astype(np.float32)
    if not np.all(np.isfinite(images)) or images.min() < 0.0 or images.max() > 1.0:
        raise ValueError(f"{name}: expected values in [0, 1], got [{np.nanmin(images)}, {np.nanmax(images)}]")
    return images


def offline_mnist(seed=0):
    """The real MNIST test split shipped with the package, split 8,000 / 2,000 (fixed permutation).

    Returns:
        `{"train": (images, labels), "test": (images, labels), "label": OFFLINE_LABEL}`.
    """
    images, labels = _images_and_labels(
        OFFLINE_MNIST_DIR / "t10k-images-idx3-ubyte.gz", OFFLINE_MNIST_DIR / "t10k-labels-idx1-ubyte.gz"
    )
    order = np.random.default_rng(seed).permutation(len(labels))
    train, test = order[:8000], order[8000:]
    return {"train": (images[train], labels[train]), "test": (images[test], labels[test]), "label": OFFLINE_LABEL}


def tfds_mnist(data_dir=None):
    """Full MNIST (60,000 / 10,000) through tensorflow-datasets; downloads on first use (online)."""
    import tensorflow_datasets as tfds

    splits = {}
    for split in ("train", "test"):
        images, labels = tfds.as_numpy(tfds.load("mnist", split=split, batch_size=-1, as_supervised=True, data_dir=data_dir))
        splits[split] = (validate_images(images[..., 0]), labels.astype(np.int64))
    splits["label"] = "tensorflow-datasets mnist (60,000 train / 10,000 test)"
    return splits


def pixel_sequences(images):
    """Images `[n, 28, 28]` in [0, 1] as the published pixel-by-pixel input: `[n, 576, 1]`.

    As `get_MNIST_data_loaders(variant="p")` then `reshape_image(x, "p")`: each
    8-bit image is resized to 24x24 by PIL's bilinear filter (what torchvision's
    `Resize` does to a PIL image; PIL widens the filter when it shrinks, so every
    output pixel averages a 2-3 pixel neighbourhood), scaled to [0, 1], and read row by row.
    """
    from PIL import Image

    images = validate_images(images)
    pixels = np.round(images * 255.0).astype(np.uint8)  # the 8-bit image torchvision resizes
    size = (PIXEL_IMAGE_SIZE, PIXEL_IMAGE_SIZE)
    resized = np.stack([np.asarray(Image.fromarray(p).resize(size, Image.Resampling.BILINEAR)) for p in pixels])
    return (resized.astype(np.float32) / 255.0).reshape(len(images), PIXEL_IMAGE_SIZE * PIXEL_IMAGE_SIZE, 1)


def as_variant(data, variant):
    """`load_mnist`'s dict as the network input of `variant`: `"l"` (28 rows of 28) or `"p"` (576 pixels)."""
    if variant not in VARIANTS:
        raise InvalidParameterError(f"variant: expected one of {VARIANTS}, got {variant!r}", parameter="variant")
    if variant == "l":
        return data
    return {
        **data,
        "train": (pixel_sequences(data["train"][0]), data["train"][1]),
        "test": (pixel_sequences(data["test"][0]), data["test"][1]),
        "label": data["label"] + ", pixel-by-pixel (24x24, 576 steps)",
    }


def make_dataset(images, labels, batch_size, shuffle=True, seed=0, drop_remainder=False):
    """A `tf.data` pipeline: cache, shuffle (each epoch), batch, prefetch.

    `drop_remainder`: every batch has `batch_size` images; the few left over by
    an epoch's shuffle wait for a later epoch. A last, smaller batch is a second
    shape, which a compiled (XLA) training step traces and compiles again.

    tf.data's autotuning is off: its background thread made the deletion of
    an iterator (`model.fit` replaces the training iterator at each epoch and
    the validation iterator at each evaluation) wait 0.2-2 s with both cores
    idle, at random epochs. The pipeline reads digits from memory, so
    nothing here needs tuning; two batches are prefetched.
    """
    import tensorflow as tf

    dataset = tf.data.Dataset.from_tensor_slices((images, labels)).cache()
    if shuffle:
        dataset = dataset.shuffle(len(labels), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size, drop_remainder=drop_remainder).prefetch(PREFETCHED_BATCHES)
    return dataset.with_options(_untuned_options())


PREFETCHED_BATCHES = 2


def _untuned_options():
    import tensorflow as tf

    options = tf.data.Options()
    options.autotune.enabled = False
    return options


def even_batch_size(count, largest=1024):
    """The batch size that splits `count` items into the fewest batches of at most `largest`, as equal as possible.

    800 validation digits: one batch of 800 (one compiled shape, where batches
    of 256 need two: 256 and 32).
    """
    batches = -(-int(count) // int(largest))
    return max(1, -(-int(count) // batches))


def load_mnist(data_dir=None, tfds=False, limit=None, seed=0, variant="l"):
    """One of the three MNIST sources, optionally cut to the first `limit` / `limit // 4` images.

    Args:
        data_dir: a folder in MNIST's IDX layout (MNIST, Fashion-MNIST, KMNIST).
        tfds: full MNIST through tensorflow-datasets (online, downloads once).
        limit: smoke runs: the first `limit` (>= 1) training and `max(1, limit // 4)` test images; None: all.
        seed: the offline split's permutation (used when neither source is given).
        variant: `"l"` (line by line, `[n, 28, 28]`) or `"p"` (pixel by pixel, `[n, 576, 1]`).

    Returns:
        `{"train": (images, labels), "test": (images, labels), "label": str}`.
    """
    if data_dir and tfds:
        raise InvalidParameterError("data_dir, tfds: give one data source, not both", parameter="tfds")
    if limit is not None:  # 0 or a negative limit would silently mean "all" or "all but the last"
        check_finite_number(limit, "limit", minimum=1, integer=True)
    if data_dir:
        data = load_idx_folder(data_dir)
        data["label"] = f"IDX folder {data_dir}"
    elif tfds:
        data = tfds_mnist()
    else:
        data = offline_mnist(seed)
    if limit:
        data["train"] = tuple(x[:limit] for x in data["train"])
        data["test"] = tuple(x[: max(1, limit // 4)] for x in data["test"])
        data["label"] += f", first {limit} / {max(1, limit // 4)} images"
    return as_variant(data, variant)
