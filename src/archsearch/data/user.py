"""The user's own data for the supervised evaluators, as numpy arrays of inputs and targets.

A split is given as an (x, y) pair of numpy arrays or tensors, a torch ``Dataset`` or ``DataLoader`` of
(input, target) pairs, a folder of images with one subfolder per class (read with Pillow), a CSV file
with a target column, a ``.npz`` file of the arrays ``x`` and ``y``, a function returning one of these (or a
dict of splits ``train``/``valid``/``test``), or a dotted path to such a function ("pkg.mod:load_data",
"path/file.py:load_data"). Every mistake in the data is one ConfigError line naming the split and what is
wrong.

A study stores the splits given as objects in its run directory (``stored_file``; ``to_examples`` reads
them into arrays and ``write_npz`` writes them) and names them in its config as ``<run>/data/train.npz``,
a path relative to the run directory, which the study resolves when it opens (``in_run``), so that the
run folder can be moved.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from archsearch.errors import ConfigError
from archsearch.resolve import one_line, resolve

SPLITS = ("train", "valid", "test")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm")
GRAY_MODES = ("1", "L", "LA", "I", "I;16", "F")
IMAGE_MODES = ("auto", "L", "RGB")
Task = Literal["classification", "regression"]
RUN_PREFIX = "<run>/"
"""How a study's config names a file of its own run directory (``<run>/data/train.npz``)."""
# A feature (or target) that is constant in the training data is only centred: dividing by its tiny std
# would blow up the values it takes in validation and test data.
MIN_STD = 1e-6


def _spread(std: np.ndarray) -> np.ndarray:
    return np.where(std < MIN_STD, 1.0, std).astype(np.float32)


@dataclass(frozen=True, eq=False)
class Examples:
    """The inputs ``x`` (float32, one row per example) and raw targets ``y`` of one split."""

    x: np.ndarray
    y: np.ndarray


@dataclass(frozen=True, eq=False)
class UserData:
    """Train, validation and optional test examples ready for training (inputs normalised when asked,
    targets encoded): class indices (int64) for classification, float32 (N, outputs) for regression.

    ``classes`` are the class names (index i is ``classes[i]``; None when the labels were indices
    already); ``target_mean`` and ``target_std`` undo the standardisation of regression targets.
    """

    train: Examples
    valid: Examples
    test: Examples | None
    input_shape: tuple[int, ...]
    num_outputs: int
    classes: tuple[str, ...] | None = None
    target_mean: np.ndarray | None = None
    target_std: np.ndarray | None = None


def _as_array(value: Any, what: str) -> np.ndarray:
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch tensor
        value = value.detach().cpu().numpy()
    try:
        return np.asarray(value)
    except Exception as exc:  # ragged lists, odd objects
        raise ConfigError(f"{what} is not an array ({type(exc).__name__}: {exc})") from None


def _stack(items: list[Any], what: str) -> np.ndarray:
    arrays = [_as_array(item, what) for item in items]
    shapes = {array.shape for array in arrays}
    if len(shapes) > 1:
        raise ConfigError(f"{what} have different shapes ({', '.join(str(s) for s in sorted(shapes)[:3])})")
    return np.stack(arrays) if arrays else np.zeros((0,))


def _pair(item: Any, what: str) -> tuple[Any, Any]:
    if isinstance(item, tuple | list) and len(item) == 2:
        return item[0], item[1]
    raise ConfigError(f"{what} must be (input, target) pairs, got a {type(item).__name__}")


def _read_torch(source: Any, split: str) -> Examples:
    from torch.utils.data import DataLoader

    if isinstance(source, DataLoader):
        batches = [_pair(batch, f"{split}: the batches of the DataLoader") for batch in source]
        if not batches:
            raise ConfigError(f"{split}: the DataLoader gives no batches")
        x = np.concatenate([_as_array(b[0], f"{split}: an input batch") for b in batches])
        y = np.concatenate(
            [_as_array(b[1], f"{split}: a target batch").reshape(len(b[1]), -1) for b in batches]
        )
        return Examples(x, y[:, 0] if y.shape[1] == 1 else y)
    items = [_pair(source[i], f"{split}: the items of the Dataset") for i in range(len(source))]
    return Examples(
        _stack([x for x, _ in items], f"{split}: the inputs of the Dataset"),
        _stack([y for _, y in items], f"{split}: the targets of the Dataset"),
    )


def read_csv(path: str | Path, target: str, split: str = "train") -> Examples:
    """Features (every column but ``target``, numeric) and raw targets (strings) of CSV file ``path``."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{split}: there is no CSV file {str(path)!r}")
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            rows = [row for row in csv.reader(handle) if row]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ConfigError(f"{split}: cannot read CSV file {str(path)!r} ({exc})") from None
    if not rows:
        raise ConfigError(f"{split}: CSV file {str(path)!r} is empty")
    header = [name.strip() for name in rows[0]]
    if target not in header:
        shown = ", ".join(header[:20]) + (", ..." if len(header) > 20 else "")
        raise ConfigError(
            f"{split}: CSV file {str(path)!r} has no column {target!r} (its columns: {shown}); set target"
        )
    body = rows[1:]
    if not body:
        raise ConfigError(f"{split}: CSV file {str(path)!r} has a header but no rows")
    column = header.index(target)
    features = [i for i in range(len(header)) if i != column]
    if not features:
        raise ConfigError(f"{split}: CSV file {str(path)!r} has no feature columns besides {target!r}")
    x = np.empty((len(body), len(features)), dtype=np.float32)
    y: list[str] = []
    for number, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise ConfigError(
                f"{split}: line {number} of {str(path)!r} has {len(row)} fields, the header {len(header)}"
            )
        for j, i in enumerate(features):
            try:
                x[number - 2, j] = float(row[i])
            except ValueError:
                raise ConfigError(
                    f"{split}: column {header[i]!r} of {str(path)!r} is not numeric "
                    f"(line {number}: {row[i]!r}); drop or encode it"
                ) from None
            if not math.isfinite(x[number - 2, j]):
                raise ConfigError(
                    f"{split}: column {header[i]!r} of {str(path)!r} has a missing or infinite value "
                    f"(line {number}: {row[i]!r})"
                )
        y.append(row[column].strip())
    return Examples(x, np.asarray(y))


def read_npz(path: str | Path, split: str = "train") -> Examples:
    """The arrays ``x`` (inputs) and ``y`` (targets) of the ``.npz`` file ``path`` (``numpy.savez``); read
    without pickle, so nothing in the file is executed."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{split}: there is no .npz file {str(path)!r}")
    try:
        with np.load(path, allow_pickle=False) as arrays:
            missing = [key for key in ("x", "y") if key not in arrays.files]
            if missing:
                raise ConfigError(
                    f"{split}: .npz file {str(path)!r} has no array {missing[0]!r} (it has "
                    f"{', '.join(arrays.files) or 'none'}); save the inputs as x and the targets as y"
                )
            return Examples(arrays["x"], arrays["y"])
    except ConfigError:
        raise
    except (OSError, ValueError) as exc:  # not a zip of arrays, or arrays of Python objects
        raise ConfigError(f"{split}: cannot read .npz file {str(path)!r} ({one_line(exc)})") from None


def write_npz(examples: Examples, path: str | Path, split: str = "train") -> None:
    """Write ``examples`` to ``path`` as the arrays ``x`` and ``y`` of a ``.npz`` file (what ``read_npz``
    reads); arrays of Python objects, which would need pickle, are a ConfigError."""
    for name, array in (("inputs x", examples.x), ("targets y", examples.y)):
        if array.dtype.hasobject:
            raise ConfigError(
                f"{split}: the {name} are Python objects (dtype object), which a study cannot store; "
                "give numbers (or strings as class names)"
            )
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        np.savez(handle, x=examples.x, y=examples.y, allow_pickle=False)


def is_in_memory(source: Any) -> bool:
    """Whether a split is given as an object held in memory (arrays, a Dataset or DataLoader), not by a
    path, a dotted path or a function (None, no split, is not)."""
    return source is not None and not isinstance(source, str | os.PathLike) and not callable(source)


def to_examples(source: Any, split: str) -> Examples:
    """The (x, y) arrays of a split given as an object (``is_in_memory``): a pair of arrays or tensors as
    they are, a Dataset or DataLoader read through once (a copy of the data)."""
    examples, _ = read_split(source, split)
    if not isinstance(examples, Examples):
        raise ConfigError(f"{split}: a dict of splits must be returned by a data loader function")
    return examples


def stored_file(split: str) -> str:
    """The file, relative to a run directory, in which a study stores ``split`` given as an object."""
    return f"data/{split}.npz"


def in_run(value: Any, directory: str | Path) -> Any:
    """``value`` (an option, or a dict or list of them) with each ``<run>/...`` path made a path in the run
    ``directory``."""
    if isinstance(value, str) and value.startswith(RUN_PREFIX):
        return os.path.join(os.path.abspath(directory), value[len(RUN_PREFIX) :])
    if isinstance(value, dict):
        return {key: in_run(item, directory) for key, item in value.items()}
    if isinstance(value, list):
        return [in_run(item, directory) for item in value]
    return value


def _image_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def _size(image_size: int | tuple[int, int] | None) -> tuple[int, int] | None:
    """Pillow's (width, height) of ``image_size`` (an int for squares or (height, width))."""
    if image_size is None:
        return None
    if isinstance(image_size, int):
        return (image_size, image_size)
    height, width = image_size
    return (int(width), int(height))


def read_image_folder(
    path: str | Path,
    image_size: int | tuple[int, int] | None = None,
    mode: str = "auto",
    split: str = "train",
    min_classes: int = 2,
) -> tuple[Examples, str]:
    """Images of ``path``/<class>/* as float32 (N, C, H, W) in [0, 1] with the class folder names as
    labels, and the Pillow mode used: "L" (one channel) or "RGB"; "auto" picks "L" when every image is
    grayscale. ``image_size`` (an int, or (height, width)) resizes every image; without it they must all
    have one size."""
    from PIL import Image, UnidentifiedImageError

    root = Path(path)
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    files = {folder.name: _image_files(folder) for folder in folders}
    classes = [name for name, found in files.items() if found]
    if not classes:
        raise ConfigError(
            f"{split}: image folder {str(root)!r} holds no images ({', '.join(IMAGE_SUFFIXES[:4])}, ...) "
            "in class subfolders; put each class's images in a subfolder named after it"
        )
    if len(classes) < min_classes:
        raise ConfigError(
            f"{split}: image folder {str(root)!r} has {len(classes)} class ({classes[0]!r}); a classifier "
            f"needs at least {min_classes}: one subfolder of images per class"
        )
    size = _size(image_size)
    images: list[Any] = []
    labels: list[str] = []
    for name in classes:
        for file in files[name]:
            try:
                with Image.open(file) as opened:
                    opened.load()
                    image = opened.copy()
            except (OSError, UnidentifiedImageError) as exc:
                raise ConfigError(f"{split}: cannot read image {str(file)!r} ({exc})") from None
            images.append((file, image))
            labels.append(name)
    if mode == "auto":
        mode = "L" if all(image.mode in GRAY_MODES for _, image in images) else "RGB"
    first_file, first = images[0]
    arrays = []
    for file, image in images:
        if size is not None:
            image = image.resize(size, Image.Resampling.BILINEAR)
        elif image.size != first.size:
            raise ConfigError(
                f"{split}: image {str(file)!r} is {image.size[0]}x{image.size[1]} pixels but "
                f"{str(first_file)!r} is {first.size[0]}x{first.size[1]}; set image_size to resize them"
            )
        array = np.asarray(image.convert(mode), dtype=np.float32) / 255.0
        arrays.append(array[None] if array.ndim == 2 else array.transpose(2, 0, 1))
    return Examples(np.stack(arrays), np.asarray(labels)), mode


def read_split(
    source: Any,
    split: str,
    *,
    target: str = "target",
    image_size: int | tuple[int, int] | None = None,
    image_mode: str = "auto",
    min_classes: int = 1,
) -> tuple[Examples | dict[str, Any], str]:
    """The examples of one split from any supported ``source``, and the image mode used ("auto" when no
    images were read); a function or dotted path may return a dict of splits, returned as it is."""
    from torch.utils.data import DataLoader, Dataset

    if isinstance(source, str | os.PathLike):
        text = os.fspath(source)
        path = Path(text).expanduser()
        if path.is_dir():
            return read_image_folder(path, image_size, image_mode, split, min_classes)
        if path.suffix.lower() == ".csv":
            return read_csv(path, target, split), image_mode
        if path.suffix.lower() == ".npz":
            if text.startswith(RUN_PREFIX):
                raise ConfigError(
                    f"{split}: {text!r} is a file of a study's run directory; open the study "
                    "(archsearch.load(DIR), `archsearch resume DIR`) to read it"
                )
            return read_npz(path, split), image_mode
        if ":" not in text:
            raise ConfigError(
                f"{split}: {text!r} is neither an image folder, a CSV or .npz file nor a dotted path "
                "'pkg.mod:load_data'"
            )
        source = resolve(text, f"{split} data loader")
        if not callable(source):
            raise ConfigError(
                f"{split}: {text!r} is a {type(source).__name__}, not a function returning data"
            )
    if isinstance(source, dict):
        unknown = sorted(set(map(str, source)) - set(SPLITS))
        if unknown or ("train" not in source and split == "train"):
            raise ConfigError(
                f"{split}: a dict of data must have the keys train and optionally valid, test; got "
                f"{', '.join(map(str, source))}"
            )
        return source, image_mode
    if isinstance(source, tuple | list):
        x, y = _pair(source, f"{split}: data given as a sequence")
        return Examples(_as_array(x, f"{split} x"), _as_array(y, f"{split} y")), image_mode
    if isinstance(source, DataLoader | Dataset):
        return _read_torch(source, split), image_mode
    if callable(source):
        return read_split(
            _call(source, split),
            split,
            target=target,
            image_size=image_size,
            image_mode=image_mode,
            min_classes=min_classes,
        )
    raise ConfigError(
        f"{split} must be an (x, y) pair, a torch Dataset or DataLoader, an image folder, a CSV or .npz file "
        f"or a dotted path to a function returning one; got a {type(source).__name__}"
    )


def _call(function: Callable[[], Any], split: str) -> Any:
    try:
        return function()
    except ConfigError:
        raise
    except Exception as exc:
        name = getattr(function, "__qualname__", repr(function))
        raise ConfigError(f"{split}: the data loader {name} failed ({type(exc).__name__}: {exc})") from None


def _checked(examples: Examples, split: str, task: Task) -> Examples:
    x, y = examples.x, examples.y
    if x.ndim == 0 or len(x) == 0:
        raise ConfigError(f"{split} has no examples")
    if len(x) != len(y):
        raise ConfigError(f"{split}: x has {len(x)} examples but y has {len(y)}; they must match")
    if x.dtype.kind not in "biuf":
        raise ConfigError(f"{split}: the inputs x are not numeric (dtype {x.dtype}); encode them as numbers")
    x = x.astype(np.float32, copy=False)
    if not np.isfinite(x).all():
        raise ConfigError(f"{split}: the inputs x hold nan or infinite values")
    if x.ndim == 1:
        x = x[:, None]
    if task == "classification" and y.ndim > 1:
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        else:
            raise ConfigError(f"{split}: classification targets must be one label per example, got {y.shape}")
    return Examples(x, y)


def _labels_as_ints(y: np.ndarray) -> np.ndarray | None:
    """``y`` as int64 class indices when it already holds non-negative integers (or their text)."""
    if y.dtype.kind in "iu":
        values = y.astype(np.int64)
    elif y.dtype.kind == "f" and np.isfinite(y).all() and (y == np.round(y)).all():
        values = y.astype(np.int64)
    elif y.dtype.kind in "US":
        try:
            values = np.asarray([int(v) for v in y], dtype=np.int64)
        except ValueError:
            return None
    else:
        return None
    return values if (values >= 0).all() else None


def _encode_classes(parts: dict[str, Examples]) -> tuple[dict[str, Examples], int, tuple[str, ...] | None]:
    as_ints = {name: _labels_as_ints(part.y) for name, part in parts.items()}
    if all(values is not None for values in as_ints.values()):
        encoded = {name: Examples(part.x, as_ints[name]) for name, part in parts.items()}  # type: ignore[arg-type]
        present = np.unique(encoded["train"].y)
        if len(present) < 2:
            raise ConfigError(f"train: every example has the class {int(present[0])}; a classifier needs two")
        num_classes = int(max(int(part.y.max()) for part in encoded.values())) + 1
        return encoded, num_classes, None
    for name, part in parts.items():
        if part.y.dtype.kind == "f":
            raise ConfigError(
                f"{name}: classification targets must be class labels (integers or names), got numbers such "
                f"as {part.y[0]!r}; use RegressionEvaluator for numeric targets"
            )
    classes = tuple(sorted({str(v) for v in parts["train"].y}))
    if len(classes) < 2:
        raise ConfigError(f"train: every example has the class {classes[0]!r}; a classifier needs two")
    index = {name: i for i, name in enumerate(classes)}
    encoded = {}
    for name, part in parts.items():
        labels = [str(v) for v in part.y]
        unknown = sorted(set(labels) - set(index))
        if unknown:
            raise ConfigError(f"{name}: class {unknown[0]!r} does not occur in the training data")
        encoded[name] = Examples(part.x, np.asarray([index[v] for v in labels], dtype=np.int64))
    return encoded, len(classes), classes


def _encode_numbers(parts: dict[str, Examples], target: str) -> dict[str, Examples]:
    encoded = {}
    for name, part in parts.items():
        y = part.y
        if y.dtype.kind not in "biuf":
            try:
                y = y.astype(np.float64)
            except ValueError:
                bad = next(v for v in y.reshape(-1) if not _is_float(v))
                raise ConfigError(
                    f"{name}: the regression target {target!r} is not numeric (e.g. {str(bad)!r})"
                ) from None
        y = y.astype(np.float32).reshape(len(y), -1)
        if not np.isfinite(y).all():
            raise ConfigError(f"{name}: the regression target holds nan or infinite values")
        encoded[name] = Examples(part.x, y)
    return encoded


def _is_float(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def _standardise(parts: dict[str, Examples]) -> dict[str, Examples]:
    """Inputs minus the training mean over the std: per feature for rows, per channel for images."""
    train_x = parts["train"].x
    axes = (0,) if train_x.ndim == 2 else tuple(i for i in range(train_x.ndim) if i != 1)
    mean = train_x.mean(axis=axes, keepdims=True, dtype=np.float64).astype(np.float32)
    std = _spread(train_x.std(axis=axes, keepdims=True, dtype=np.float64))
    return {name: Examples((part.x - mean) / std, part.y) for name, part in parts.items()}


def hold_out(count: int, val_size: float | int, split_seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted indices (train, validation) of a random hold-out of ``val_size`` (a fraction or a count)
    of ``count`` training examples, the same for the same ``split_seed``."""
    held = max(1, round(val_size * count)) if isinstance(val_size, float) else int(val_size)
    if not 1 <= held < count:
        raise ConfigError(
            f"val_size={val_size!r} holds out {held} of {count} training examples; the data set is too "
            "small for the split (at least one example must remain for training and one for validation)"
        )
    order = np.random.default_rng(split_seed).permutation(count)
    return np.sort(order[held:]), np.sort(order[:held])


def load_user_data(
    task: Task,
    train: Any,
    valid: Any = None,
    test: Any = None,
    *,
    val_size: float | int = 0.2,
    split_seed: int = 0,
    target: str = "target",
    image_size: int | tuple[int, int] | None = None,
    image_mode: str = "auto",
    normalize: bool = True,
) -> UserData:
    """Read, check and prepare the user's splits for ``task`` ("classification" or "regression").

    ``train``, ``valid``, ``test`` are sources as in the module docstring (``valid`` and ``test`` may be
    None; a loader returning a dict of splits fills the ones not given). Without ``valid``, ``val_size``
    (a fraction or a count) of ``train`` is held out at random (``split_seed``). ``target`` names the
    CSV target column; ``image_size`` and ``image_mode`` apply to image folders. With ``normalize`` the
    inputs are standardised with the training mean and std (per feature, or per channel of images) and
    regression targets too (``target_mean``/``target_std`` undo it).
    """
    loaded, mode = read_split(
        train, "train", target=target, image_size=image_size, image_mode=image_mode, min_classes=2
    )
    given: dict[str, Any] = {"valid": valid, "test": test}
    if isinstance(loaded, dict):
        for name in ("valid", "test"):
            if given[name] is None:
                given[name] = loaded.get(name)
        loaded, mode = read_split(
            loaded["train"], "train", target=target, image_size=image_size, image_mode=mode, min_classes=2
        )
    assert isinstance(loaded, Examples)
    parts: dict[str, Examples] = {"train": _checked(loaded, "train", task)}
    for name, source in given.items():
        if source is None:
            continue
        examples, _ = read_split(source, name, target=target, image_size=image_size, image_mode=mode)
        if isinstance(examples, dict):
            if name not in examples:
                raise ConfigError(f"{name}: the data loader's dict has no {name!r} split")
            examples, _ = read_split(
                examples[name], name, target=target, image_size=image_size, image_mode=mode
            )
        assert isinstance(examples, Examples)
        parts[name] = _checked(examples, name, task)
    if "valid" not in parts:
        train_idx, valid_idx = hold_out(len(parts["train"].x), val_size, split_seed)
        whole = parts["train"]
        parts["train"] = Examples(whole.x[train_idx], whole.y[train_idx])
        parts["valid"] = Examples(whole.x[valid_idx], whole.y[valid_idx])
    shape = parts["train"].x.shape[1:]
    for name, part in parts.items():
        if part.x.shape[1:] != shape:
            raise ConfigError(f"{name}: inputs of shape {part.x.shape[1:]}, the training ones {shape}")
    classes: tuple[str, ...] | None = None
    target_mean = target_std = None
    if task == "classification":
        parts, num_outputs, classes = _encode_classes(parts)
    else:
        parts = _encode_numbers(parts, target)
        num_outputs = parts["train"].y.shape[1]
        for name, part in parts.items():
            if part.y.shape[1] != num_outputs:
                raise ConfigError(
                    f"{name}: {part.y.shape[1]} regression targets per example, train {num_outputs}"
                )
        if normalize:
            target_mean = parts["train"].y.mean(axis=0, dtype=np.float64).astype(np.float32)
            target_std = _spread(parts["train"].y.std(axis=0, dtype=np.float64))
            parts = {n: Examples(p.x, (p.y - target_mean) / target_std) for n, p in parts.items()}
    if normalize:
        parts = _standardise(parts)
    return UserData(
        train=parts["train"],
        valid=parts["valid"],
        test=parts.get("test"),
        input_shape=tuple(int(s) for s in shape),
        num_outputs=int(num_outputs),
        classes=classes,
        target_mean=target_mean,
        target_std=target_std,
    )
