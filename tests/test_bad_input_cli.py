"""`difficulty-widget demo` with bad arguments (issue 18): checked before any training, a usage line and a one-line
error naming the argument (argparse's convention), no traceback, exit status 2."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import pytest

from difficulty_widget import cli
from difficulty_widget.pipeline import demo


@pytest.fixture()
def no_training(monkeypatch):
    """Fails the test if the demo itself is reached; records the arguments it would have run with."""
    calls = []

    def spy(*args):
        calls.append(args)
        return 0

    monkeypatch.setattr(demo, "main_demo", spy)
    return calls


def refused(args: list[str], capsys) -> str:
    started = time.perf_counter()
    with pytest.raises(SystemExit) as info:
        cli.main(["demo", *args])
    assert time.perf_counter() - started < 1.0  # validated up front, nothing trained
    assert info.value.code == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert lines[0].startswith("usage: difficulty-widget demo") and "Traceback" not in err
    assert lines[-1].startswith("difficulty-widget demo: error: argument ")
    # the usage (its continuation lines indented), then the error on one line
    assert all(line.startswith(("usage:", " ")) for line in lines[:-1]), err
    return lines[-1]


BAD_NUMBERS = {
    "epochs 0": (["--epochs", "0"], r"argument --epochs: must be at least 2, got 0"),
    "epochs 1": (["--epochs", "1"], r"argument --epochs: must be at least 2, got 1: .*training dynamics"),
    "epochs negative": (["--epochs", "-3"], r"argument --epochs: must be at least 2, got -3"),
    "epochs text": (["--epochs", "many"], r"argument --epochs: must be an integer, got 'many'"),
    "epochs fraction": (["--epochs", "2.5"], r"argument --epochs: must be an integer, got '2.5'"),
    "seed -1": (["--seed", "-1"], r"argument --seed: must be an integer from 0 to 4294967295 .*got -1"),
    "seed 2**32": (["--seed", str(2**32)], r"argument --seed: .*got 4294967296"),
    "seed text": (["--seed", "x"], r"argument --seed: must be an integer, got 'x'"),
    "dataset unknown": (["--dataset", "imagenet"], r"argument --dataset: invalid choice: 'imagenet'"),
    "epochs with an underscore": (["--epochs", "2_0"], r"argument --epochs: must be an integer, got '2_0' \(plain"),
    "epochs in fullwidth digits": (["--epochs", "\uff15"], r"argument --epochs: must be an integer, got '\uff15'"),
    "epochs with a plus": (["--epochs", "+5"], r"argument --epochs: must be an integer, got '\+5'"),
    "epochs with spaces": (["--epochs", " 5 "], r"argument --epochs: must be an integer, got ' 5 '"),
    "epochs too many": (["--epochs", "10001"], r"argument --epochs: must be at most 10000, got 10001"),
    "epochs 10**12": (["--epochs", str(10**12)], r"argument --epochs: must be at most 10000, got 1000000000000$"),
    "epochs 5000 digits": (["--epochs", "9" * 5000], r"argument --epochs: must be from 2 to 10000, got a 5000-digit"),
    "seed with an underscore": (["--seed", "1_0"], r"argument --seed: must be an integer, got '1_0'"),
    "seed in Arabic-Indic digits": (["--seed", "\u0663"], r"argument --seed: must be an integer, got"),
    "seed 30 digits": (["--seed", "-" + "9" * 30], r"argument --seed: .* got a negative 30-digit number"),
}


@pytest.mark.parametrize(("args", "message"), list(BAD_NUMBERS.values()), ids=list(BAD_NUMBERS))
def test_bad_numbers_are_refused_before_training(args, message, capsys, no_training, tmp_path):
    line = refused([*args, "--out", str(tmp_path / "out")], capsys)
    assert re.search(message, line), line
    assert no_training == [] and not (tmp_path / "out").exists()


def test_out_an_existing_file(tmp_path, capsys, no_training):
    (tmp_path / "f.txt").write_text("keep me")
    line = refused(["--out", str(tmp_path / "f.txt")], capsys)
    assert "argument --out:" in line and "is an existing file, not a folder" in line
    assert (tmp_path / "f.txt").read_text() == "keep me" and no_training == []


def test_out_below_a_file(tmp_path, capsys, no_training):
    (tmp_path / "f.txt").write_text("x")
    line = refused(["--out", str(tmp_path / "f.txt" / "sub" / "deeper")], capsys)
    assert "argument --out:" in line and f"{str(tmp_path / 'f.txt')!r} is a file, not a folder" in line


def test_out_whose_analysis_file_is_a_folder(tmp_path, capsys, no_training):
    (tmp_path / "out" / "analysis.parquet").mkdir(parents=True)
    line = refused(["--out", str(tmp_path / "out")], capsys)
    assert "argument --out:" in line and "analysis.parquet' is a folder" in line


def test_the_largest_epochs_reach_the_demo(tmp_path, no_training):
    assert cli.main(["demo", "--out", str(tmp_path / "out"), "--epochs", "10000"]) == 0
    assert no_training[0][2] == 10000


def test_out_with_a_name_too_long(tmp_path, capsys, no_training):
    line = refused(["--out", str(tmp_path / ("n" * 300))], capsys)
    assert "argument --out: cannot use '" in line and "(File name too long)" in line and "300" not in line[:30]
    assert no_training == []


def test_out_with_a_nul_character(tmp_path, capsys, no_training):
    line = refused(["--out", str(tmp_path / "a\x00b")], capsys)
    assert "argument --out:" in line and "holds a NUL character" in line and no_training == []


@pytest.mark.parametrize("below", [False, True], ids=["out", "below out"])
@pytest.mark.parametrize("kind", ["dangling", "loop"])
def test_out_through_a_broken_symbolic_link(tmp_path, capsys, no_training, kind, below):
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "missing" / "deeper" if kind == "dangling" else link)
    line = refused(["--out", str(link / "sub" if below else link)], capsys)
    expected = "which does not exist" if kind == "dangling" else "is a symbolic link that loops"
    assert f"argument --out: {str(link)!r}" in line and expected in line, line
    assert no_training == []


@pytest.mark.parametrize("name", ["embeddings.npy", "templates.npy", "analysis.parquet"])
def test_out_whose_output_files_are_folders(tmp_path, capsys, no_training, name):
    (tmp_path / "out" / name).mkdir(parents=True)
    line = refused(["--out", str(tmp_path / "out")], capsys)
    assert f"argument --out: {str(tmp_path / 'out' / name)!r} is a folder; the demo writes" in line
    assert no_training == []


def test_out_whose_output_file_is_a_dangling_link(tmp_path, capsys, no_training):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "templates.npy").symlink_to(tmp_path / "gone" / "templates.npy")
    line = refused(["--out", str(tmp_path / "out")], capsys)
    assert "templates.npy' is a symbolic link to" in line and "which does not exist" in line


def test_out_whose_output_file_is_a_pipe(tmp_path, capsys, no_training):
    (tmp_path / "out").mkdir()
    os.mkfifo(tmp_path / "out" / "embeddings.npy")
    line = refused(["--out", str(tmp_path / "out")], capsys)
    assert "embeddings.npy' is not a regular file" in line and no_training == []


def test_the_notebook_path_is_checked_only_with_open(tmp_path, capsys, no_training):
    (tmp_path / "out" / "explore.ipynb").mkdir(parents=True)
    line = refused(["--out", str(tmp_path / "out"), "--open"], capsys)  # refused before --open's JupyterLab check
    assert "explore.ipynb' is a folder; the demo writes the notebook for --open there" in line
    assert no_training == []
    assert cli.main(["demo", "--out", str(tmp_path / "out")]) == 0  # without --open nothing is written there
    assert len(no_training) == 1


def test_out_empty(capsys, no_training):
    assert "argument --out: must be a folder path" in refused(["--out", ""], capsys)


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root may write to any folder")
def test_out_in_a_read_only_folder(tmp_path, capsys, no_training):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        line = refused(["--out", str(locked / "out")], capsys)
    finally:
        locked.chmod(0o700)
    assert "argument --out: cannot write to" in line and str(locked) in line


def test_out_where_writing_fails(tmp_path, capsys, no_training, monkeypatch):
    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(cli.tempfile, "TemporaryFile", denied)
    line = refused(["--out", str(tmp_path / "new" / "out")], capsys)
    assert f"argument --out: cannot write to {str(tmp_path)!r} (Permission denied)" in line
    assert not (tmp_path / "new").exists()


def test_open_without_jupyterlab(tmp_path, capsys, no_training, monkeypatch):
    real = cli.importlib.util.find_spec
    monkeypatch.setattr(cli.importlib.util, "find_spec", lambda name: None if name == "jupyterlab" else real(name))
    line = refused(["--out", str(tmp_path), "--open"], capsys)
    assert "argument --open: JupyterLab is not installed" in line


def test_good_arguments_reach_the_demo_with_out_expanded(tmp_path, no_training, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert cli.main(["demo", "--out", "~/out", "--epochs", "2", "--seed", str(2**32 - 1), "--no-progress"]) == 0
    assert no_training == [("digits", str(tmp_path / "out"), 2, 2**32 - 1, False, False)]


def test_in_a_subprocess_there_is_no_traceback(tmp_path):
    (tmp_path / "f").write_text("x")
    code = "import sys; from difficulty_widget.cli import main; sys.exit(main())"
    for args in (["--epochs", "1"], ["--out", str(tmp_path / "f")], ["--out", str(tmp_path / ("n" * 300))]):
        done = subprocess.run(
            [sys.executable, "-c", code, "demo", *args], capture_output=True, text=True, timeout=120, check=False
        )
        assert done.returncode == 2 and "Traceback" not in done.stderr and done.stdout == ""
        lines = done.stderr.strip().splitlines()
        assert lines[-1].startswith(f"difficulty-widget demo: error: argument {args[0]}")
        assert all(line.startswith(("usage:", " ")) for line in lines[:-1]), done.stderr
