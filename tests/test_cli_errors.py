"""Every bad input to the command line is one line naming the problem and exit code 2, never a traceback,
and nothing is created where a run should not start (issue 14, item 3)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from archsearch.cli import build_config, main
from archsearch.config import load_config
from archsearch.registry import construct
from archsearch.spaces.nb201 import NB201Space

NB201 = ["--space", "nb201", "--executor", "inline", "--quiet"]

# (argv with {tmp} for the test's directory, a piece of the expected message). Every search case writes
# to {tmp}/run unless it says otherwise, and {tmp}/run must not exist afterwards.
BAD_INPUTS: list[tuple[list[str], str]] = [
    # --out that cannot hold a run
    (["search", "--out", "{tmp}/afile", *NB201], "afile is a file"),
    (["search", "--out", "{tmp}/afile/run", *NB201], "afile"),
    (["search", "--out", "", *NB201], "empty argument after --out"),
    (["search", "--out", "   ", *NB201], "empty argument after --out"),
    # --config files that are not a YAML mapping
    (["search", "--config", "{tmp}/binary.yaml", "--out", "{tmp}/run"], "not UTF-8 text"),
    (
        ["search", "--config", "{tmp}/list.yaml", "--out", "{tmp}/run"],
        "must hold a mapping of options, not a list",
    ),
    (["search", "--config", "{tmp}/scalar.yaml", "--out", "{tmp}/run"], "not a str"),
    (["search", "--config", "{tmp}/broken.yaml", "--out", "{tmp}/run"], "is not valid YAML"),
    (["search", "--config", "{tmp}/tagged.yaml", "--out", "{tmp}/run"], "is not valid YAML"),
    (["search", "--config", "{tmp}/twodocs.yaml", "--out", "{tmp}/run"], "is not valid YAML"),
    (["search", "--config", "{tmp}", "--out", "{tmp}/run"], "is not a file"),
    (["search", "--config", "{tmp}/missing.yaml", "--out", "{tmp}/run"], "does not exist"),
    (["search", "--config", "{tmp}/empty.yaml", "--out", "{tmp}/run", "--trials", "0"], "n_trials"),
    (["search", "--config", "{tmp}/unknown.yaml", "--out", "{tmp}/run"], "no_such_option"),
    # --set values that are not YAML, tags, keys that are not keys
    (
        ["search", "--out", "{tmp}/run", *NB201, "--set", "strategy.params.lr=[0.1"],
        "lr=[0.1 is not valid YAML",
    ),
    (["search", "--out", "{tmp}/run", *NB201, "--set", "x=!!python/name:os.system"], "python/name:os.system"),
    (
        [
            "search",
            "--out",
            "{tmp}/run",
            *NB201,
            "--set",
            'seed=!!python/object/apply:os.system ["touch {tmp}/pwned"]',
        ],
        "python/object/apply:os.system",
    ),
    (["search", "--out", "{tmp}/run", *NB201, "--set", "=1"], "--set expects key=value"),
    (["search", "--out", "{tmp}/run", *NB201, "--set", "novalue"], "--set expects key=value"),
    (["search", "--out", "{tmp}/run", *NB201, "--set", "strategy..lr=1"], "--set expects key=value"),
    (["search", "--out", "{tmp}/run", *NB201, "--set", "seed.x=1"], "'seed' is not a section"),
    (["search", "--out", "{tmp}/run", *NB201, "--set", "n_trials=2.5"], "n_trials"),
    (["search", "--out", "{tmp}/run", *NB201, "--set", "space=3"], "space"),
    (["search", "--out", "{tmp}/run", *NB201, "--set", "strategy.params.lr=.nan"], "finite number"),
    (["search", "--out", "{tmp}/run", *NB201, "--set", "strategy.params.lr=1e400"], "finite number"),
    # counts and times that cannot work
    (["search", "--out", "{tmp}/run", *NB201, "--trials", "0"], "n_trials (--trials)"),
    (["search", "--out", "{tmp}/run", *NB201, "--trials", "-1"], "n_trials"),
    (["search", "--out", "{tmp}/run", *NB201, "--trials", "many"], "Invalid value for '--trials'"),
    (["search", "--out", "{tmp}/run", "--epochs", "0"], "epochs"),
    (["search", "--out", "{tmp}/run", "--workers", "0"], "workers"),
    (["search", "--out", "{tmp}/run", "--workers", "1000000"], "workers"),
    (["search", "--out", "{tmp}/run", "--max-concurrent", "0"], "max_concurrent"),
    (["search", "--out", "{tmp}/run", "--timeout", "-1"], "timeout"),
    (["search", "--out", "{tmp}/run", "--timeout", "inf"], "finite number"),
    (["search", "--out", "{tmp}/run", "--max-time", "-1"], "max_time_s (--max-time)"),
    (["search", "--out", "{tmp}/run", "--max-time", "nan"], "max_time_s"),
    (["search", "--out", "{tmp}/run", *NB201, "--seed", "-1"], "seed"),
    (["search", "--out", "{tmp}/run", *NB201, "--seed", str(2**70)], "seed"),
    # names: unknown, empty, unicode, markup-looking
    (["search", "--out", "{tmp}/run", "--space", "ünïcode"], "ünïcode"),
    (["search", "--out", "{tmp}/run", "--strategy", "名前", *NB201], "名前"),
    (["search", "--out", "{tmp}/run", "--strategy", "[red]x[/red]", *NB201], "[red]x[/red]"),
    (["search", "--out", "{tmp}/run", "--executor", "nosuch", "--space", "nb201"], "executor"),
    (["search", "--out", "{tmp}/run", "--dataset", "nosuch"], "nosuch"),
    (
        [
            "search",
            "--out",
            "{tmp}/run",
            "--space",
            "nb201",
            "--executor",
            "ray",
            "--ray-address",
            "not an address",
        ],
        "ray_address",
    ),
    (
        [
            "search",
            "--out",
            "{tmp}/run",
            "--space",
            "nb201",
            "--executor",
            "ray",
            "--ray-address",
            "host:port",
        ],
        "ray_address",
    ),
    (["search", "--config", "{tmp}/intkey.yaml", "--out", "{tmp}/run"], "Keys should be strings"),
    (
        ["search", "--config", "{tmp}/laughs.yaml", "--out", "{tmp}/run"],
        "expands to more than 1,000,000 values",
    ),
    (["search", "--config", "{tmp}/itself.yaml", "--out", "{tmp}/run"], "holds itself"),
    (["search", "--config", "{tmp}/deep.yaml", "--out", "{tmp}/run"], "nests deeper than 100 levels"),
    # strategy options that cannot work
    (
        [
            "search",
            "--out",
            "{tmp}/run",
            *NB201,
            "--strategy",
            "evolution",
            "--set",
            "strategy.params.population_size=0",
        ],
        "population_size",
    ),
    (
        [
            "search",
            "--out",
            "{tmp}/run",
            *NB201,
            "--strategy",
            "evolution",
            "--set",
            "strategy.params.sample_size=-1",
        ],
        "sample_size",
    ),
    (
        [
            "search",
            "--out",
            "{tmp}/run",
            *NB201,
            "--strategy",
            "ppo",
            "--set",
            "strategy.params.batch_size=0",
        ],
        "batch_size",
    ),
    (["search", "--out", "{tmp}/run", *NB201, "--strategy", "asng", "--set", "strategy.params.lam=1"], "lam"),
    (
        ["search", "--out", "{tmp}/run", "--space", "nasrl_cnn", "--set", "space.params.num_layers=0"],
        "num_layers",
    ),
    (
        [
            "search",
            "--out",
            "{tmp}/run",
            *NB201,
            "--strategy",
            "evolution",
            "--set",
            "strategy.params.population_size=1.5",
        ],
        "population_size=1.5: Input should be a valid integer",
    ),
    (
        [
            "search",
            "--out",
            "{tmp}/run",
            *NB201,
            "--strategy",
            "reinforce",
            "--set",
            "strategy.params.lr=fast",
        ],
        "lr='fast': Input should be a valid number",
    ),
    (
        ["search", "--out", "{tmp}/run", "--space", "nasrl_cnn", "--set", "space.params.num_filters=abc"],
        "num_filters='abc'",
    ),
    # paths with brackets, spaces and newlines print literally
    (["status", "{tmp}/runs[/old]"], "runs[/old]"),
    (["best", "{tmp}/[bold]x"], "[bold]x"),
    (["front", "{tmp}/sp ace[1]"], "sp ace[1]"),
    (["resume", "{tmp}/no[/such]"], "no[/such]"),
    (["search", "--out", "{tmp}/sp ace[1]/run", *NB201, "--trials", "0"], "n_trials"),
    (["search", "--out", "{tmp}/new\nline", *NB201, "--trials", "0"], "n_trials"),
    (["status", "{tmp}/afile"], "afile"),
    (["search", "--out", "{tmp}/bad\udcffname", *NB201], "the argument after --out is not UTF-8 text"),
    # report and export onto a file
    (["report", "{tmp}/study", "--out", "{tmp}/afile"], "--out {tmp}/afile is a file"),
    (["export", "{tmp}/study", "--out", "{tmp}/afile"], "--out {tmp}/afile is a file"),
    (["export", "{tmp}/study", "--out", "{tmp}/afile/x"], "lies under the file {tmp}/afile"),
    (["zero", "report", "{tmp}/zero", "--out", "{tmp}/afile"], "--out {tmp}/afile is a file"),
    # AutoML-Zero
    (
        ["zero", "--out", "{tmp}/run", "--tournament", "100", "--population", "10"],
        "tournament_size (--tournament) 100",
    ),
    (["zero", "--out", "{tmp}/run", "--population", str(10**20)], "population_size"),
    (["zero", "--out", "{tmp}/run", "--budget", "0"], "budget (--budget)"),
    (["zero", "--out", "{tmp}/run", "--n-train", str(10**9)], "n_train"),
    (["zero", "--out", "{tmp}/run", "--n-valid", str(10**23)], "n_valid"),
    (["zero", "--out", "{tmp}/run", "--workers", "0"], "workers"),
    (["zero", "--out", "{tmp}/run", "--workers", "100000"], "workers"),
    (["zero", "--out", "{tmp}/run", "--max-time", "-1"], "--max-time must be a positive"),
    (["zero", "--out", "{tmp}/run", "--max-time", "nan"], "--max-time must be a positive"),
    (["zero", "--out", "{tmp}/run", "--mutate-prob", "2"], "mutate_prob"),
    (["zero", "--out", "{tmp}/run", "--seed", "-5"], "seed"),
    (["zero", "--out", "{tmp}/run", "--restart-every", "0"], "experiment_individuals"),
    (["zero", "--out", "{tmp}/run", "--task", "nosuch"], "unknown task 'nosuch'"),
    (["zero", "resume", "{tmp}/zero", "--max-time", "0"], "--max-time must be a positive"),
    # one-shot
    (["oneshot", "--out", "{tmp}/run", "--epochs", "0"], "epochs (--epochs)"),
    (["oneshot", "--out", "{tmp}/run", "--seed", "-1"], "seed"),
    (["oneshot", "--out", "{tmp}/run", "--threads", "0"], "threads"),
    (["oneshot", "--out", "{tmp}/run", "--threads", "99999999"], "threads"),
    (["oneshot", "--out", "{tmp}/run", "--order", "2"], "--order"),
    (["oneshot", "--out", "{tmp}/run", "--set", "hyper.lr=[0.1"], "hyper.lr=[0.1 is not valid YAML"),
    (["oneshot", "--out", "{tmp}/run", "--set", "hyper.lr=!!python/name:os.system"], "python/name:os.system"),
    (["oneshot", "--resume", "{tmp}/x[/y]"], "x[/y]"),
    # benchmarks
    (["bench", "nb201", "--workers", "0", "--out", "{tmp}/run"], "--workers must be in 1..1024"),
    (["bench", "nb201", "--workers", "-3", "--out", "{tmp}/run"], "--workers must be in 1..1024"),
    (["bench", "nb201", "--workers", "5000", "--out", "{tmp}/run"], "--workers must be in 1..1024"),
    (["bench", "nb201", "--runs", "0", "--out", "{tmp}/run"], "--runs must be at least 1"),
    (["bench", "nb201", "--runs", "99999999999", "--out", "{tmp}/run"], "--runs 99999999999"),
    (["bench", "nb201", "--budget", "nan", "--out", "{tmp}/run"], "--budget must be in"),
    (["bench", "nb201", "--budget", "inf", "--out", "{tmp}/run"], "--budget must be in"),
    (["bench", "nb201", "--budget", "1e300", "--out", "{tmp}/run"], "--budget must be in"),
    (["bench", "nb201", "--seed", "-1", "--out", "{tmp}/run"], "--seed must not be negative"),
    (["bench", "nb201", "--out", "{tmp}/afile"], "--out {tmp}/afile is a file"),
    (["bench", "nb201-mo", "--workers", "0", "--out", "{tmp}/run"], "--workers must be in 1..1024"),
    (["bench", "nb201-mo", "--budget", "-5", "--out", "{tmp}/run"], "--budget must be in"),
    (
        ["bench", "nb201-mo", "--objectives", "val_acc:max,val_acc:min", "--out", "{tmp}/run"],
        "different metrics",
    ),
]


@pytest.fixture
def hostile_dir(tmp_path: Path) -> Path:
    """A directory holding the inputs a hostile user hands the CLI."""
    (tmp_path / "afile").write_text("the user's notes\n")
    (tmp_path / "binary.yaml").write_bytes(b"\x00\xff\xfe\x89PNG binary")
    (tmp_path / "list.yaml").write_text("- seed\n- n_trials\n")
    (tmp_path / "scalar.yaml").write_text("just words\n")
    (tmp_path / "broken.yaml").write_text("seed: [1\n")
    (tmp_path / "tagged.yaml").write_text(
        f"seed: !!python/object/apply:os.system ['touch {tmp_path}/pwned']\n"
    )
    (tmp_path / "twodocs.yaml").write_text("seed: 1\n---\nseed: 2\n")
    (tmp_path / "empty.yaml").write_text("")
    (tmp_path / "unknown.yaml").write_text("no_such_option: 1\n")
    (tmp_path / "intkey.yaml").write_text("1: 2\n")
    laughs = ["strategy:", "  name: random", "  params:", "    l0: &l0 [x, x, x, x, x, x, x, x, x, x]"]
    laughs += [f"    l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]" for i in range(1, 7)]
    (tmp_path / "laughs.yaml").write_text("\n".join(laughs) + "\n")  # 10**7 values once written out
    (tmp_path / "itself.yaml").write_text("strategy: &s {name: random, params: {x: *s}}\n")
    (tmp_path / "deep.yaml").write_text(
        "strategy: {name: random, params: {x: " + "[" * 300 + "]" * 300 + "}}\n"
    )
    (tmp_path / "study").mkdir()
    return tmp_path


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    captured = capsys.readouterr()
    return int(exit_info.value.code or 0), captured.out, captured.err


def assert_one_line_error(code: int, stderr: str, expected: str) -> None:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert code == 2, stderr
    assert "Traceback" not in stderr
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: ") and expected in lines[0], lines[0]


@pytest.mark.parametrize(
    ("argv", "expected"), BAD_INPUTS, ids=[" ".join(w for w in a if w not in NB201) for a, _ in BAD_INPUTS]
)
def test_bad_input_is_one_line_naming_it_with_exit_code_2_and_creates_nothing(
    argv: list[str], expected: str, hostile_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = sorted(p.name for p in hostile_dir.iterdir())
    tmp = str(hostile_dir)
    code, _, stderr = run_cli([a.replace("{tmp}", tmp) for a in argv], capsys)
    assert_one_line_error(code, stderr, expected.replace("{tmp}", tmp))
    assert sorted(p.name for p in hostile_dir.iterdir()) == before  # no run, no report, no pwned file
    assert (hostile_dir / "afile").read_text() == "the user's notes\n"


def test_every_yaml_tag_is_refused_and_never_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    payloads = [
        f"!!python/object/apply:os.system ['touch {tmp_path}/pwned']",
        f"!!python/object/new:subprocess.Popen [['touch', '{tmp_path}/pwned']]",
        "!!python/name:os.system",
        "!!python/module:os",
        "!!binary aGVsbG8=",
    ]
    for payload in payloads:
        (tmp_path / "c.yaml").write_text(f"seed: {payload}\n")
        code, _, stderr = run_cli(
            ["search", "--config", str(tmp_path / "c.yaml"), "--out", str(tmp_path / "r")], capsys
        )
        assert code == 2 and "Traceback" not in stderr, stderr
        code, _, stderr = run_cli(
            ["search", "--out", str(tmp_path / "r"), *NB201, "--set", f"seed={payload}"], capsys
        )
        assert code == 2 and "Traceback" not in stderr, stderr
    assert not (tmp_path / "pwned").exists() and not (tmp_path / "r").exists()


def test_scientific_notation_is_a_number_in_set_and_in_yaml_files(tmp_path: Path) -> None:
    cfg = build_config(
        None,
        {},
        [
            "strategy.params.lr=1e-3",
            "strategy.params.entropy=1E5",
            "strategy.params.decay=-2.5e-4",
            "strategy.params.plus=+3e2",
            "strategy.params.word=e5",
            "strategy.params.version=1.2.3",
            "n_trials=1e3",
        ],
    )
    params = cfg.strategy.params
    assert params["lr"] == pytest.approx(1e-3) and isinstance(params["lr"], float)
    assert params["entropy"] == 1e5 and params["decay"] == pytest.approx(-2.5e-4) and params["plus"] == 300.0
    assert params["word"] == "e5" and params["version"] == "1.2.3"
    assert cfg.n_trials == 1000 and isinstance(cfg.n_trials, int)
    strategy = construct("strategy", "evolution", {"population_size": 1e1}, space=NB201Space())
    assert strategy.population_size == 10 and isinstance(strategy.population_size, int)
    (tmp_path / "c.yaml").write_text(
        "max_time_s: 2.5E+3\nstrategy:\n  name: reinforce\n  params: {lr: 6e-4}\n"
    )
    loaded = load_config(tmp_path / "c.yaml")
    assert loaded.max_time_s == 2500.0 and loaded.strategy.params["lr"] == pytest.approx(6e-4)


def test_a_strategy_given_lr_1e_minus_3_searches(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    argv = ["search", "--out", str(out), *NB201, "--trials", "3", "--strategy", "reinforce"]
    code, _, stderr = run_cli([*argv, "--set", "strategy.params.lr=1e-3"], capsys)
    assert code == 0, stderr
    code, stdout, _ = run_cli(["status", str(out)], capsys)
    assert code == 0 and "3/3 trials started" in stdout


def test_commands_on_a_real_study_print_bracketed_paths_literally(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "runs[/old] [bold]"
    code, _, stderr = run_cli(["search", "--out", str(out), *NB201, "--trials", "3"], capsys)
    assert code == 0, stderr
    assert f"archsearch report {out}" in stderr
    code, stdout, stderr = run_cli(["status", str(out)], capsys)
    assert code == 0 and f"{out}: 3/3 trials started" in stdout, stderr
    (tmp_path / "afile").write_text("x")
    for command in ("report", "export"):
        code, _, stderr = run_cli([command, str(out), "--out", str(tmp_path / "afile")], capsys)
        assert_one_line_error(code, stderr, "is a file")
    assert (tmp_path / "afile").read_text() == "x"


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (PermissionError(13, "Permission denied", "/ro/run"), "error: Permission denied (/ro/run)"),
        (NotADirectoryError(20, "Not a directory", "/f/run"), "error: Not a directory (/f/run)"),
        (FileExistsError(17, "File exists", "/f[/x]"), "error: File exists (/f[/x])"),
        (OSError(28, "No space left on device"), "error: No space left on device"),
        (
            MemoryError("Unable to allocate 298. GiB"),
            "error: out of memory: Unable to allocate 298. GiB; lower the sizes you chose",
        ),
        (
            sqlite3.OperationalError("database or disk is full"),
            "error: database error: database or disk is full",
        ),
        (sqlite3.DatabaseError("file is not a database"), "error: database error: file is not a database"),
    ],
)
def test_file_system_and_database_errors_that_escape_are_one_line(
    error: Exception,
    expected: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from archsearch.study import Study

    def refuse(*args: object, **kwargs: object) -> None:
        raise error

    monkeypatch.setattr(Study, "create", refuse)
    code, _, stderr = run_cli(["search", "--out", str(tmp_path / "run"), *NB201], capsys)
    assert code == 2 and stderr.strip() == expected


def test_an_internal_bug_still_shows_its_traceback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from archsearch.study import Study

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug in archsearch")

    monkeypatch.setattr(Study, "create", broken)
    with pytest.raises(RuntimeError, match="a bug in archsearch"):
        main(["search", "--out", str(tmp_path / "run"), *NB201])


@pytest.mark.parametrize(
    "argv",
    [
        ["status", "runs[/old]"],
        ["search", "--out", b"{tmp}/bad\xffname", "--space", "nb201", "--trials", "2"],
        ["search", "--config", "{tmp}/binary.yaml", "--out", "{tmp}/run"],
        ["bench", "nb201", "--workers", "0", "--out", "{tmp}/run"],
        ["zero", "--tournament", "100", "--population", "10", "--out", "{tmp}/run"],
    ],
)
def test_the_installed_command_prints_one_line_and_exits_2(
    argv: list[str | bytes], hostile_dir: Path
) -> None:
    args = [
        a.replace(b"{tmp}", bytes(hostile_dir))
        if isinstance(a, bytes)
        else a.replace("{tmp}", str(hostile_dir))
        for a in argv
    ]
    done = subprocess.run(
        [sys.executable, "-m", "archsearch", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=hostile_dir,
    )
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert not (hostile_dir / "run").exists() and not list(hostile_dir.glob("bad*"))


def test_a_typo_in_a_mapping_option_is_refused_not_dropped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["search", "--out", str(tmp_path / "run"), *NB201, "--strategy", "reinforce"]
    argv += ["--set", "strategy.params.curriculum={start: 2.0, evry: 3}"]
    code, _, stderr = run_cli(argv, capsys)
    assert_one_line_error(code, stderr, "evry")
    assert not (tmp_path / "run").exists()


def test_sigterm_before_the_run_begins_exits_143_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import os
    import signal

    from archsearch.study import Study

    def terminated(*args: object, **kwargs: object) -> None:
        os.kill(os.getpid(), signal.SIGTERM)
        signal.pthread_sigmask(signal.SIG_BLOCK, [])  # a C call: the handler runs before it returns

    monkeypatch.setattr(Study, "create", terminated)
    code, _, stderr = run_cli(["search", "--out", str(tmp_path / "run"), *NB201], capsys)
    assert code == 143
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines == ["interrupted by SIGTERM"], stderr
