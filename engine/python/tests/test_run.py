"""emprox.run / resume / compare: what the CLI does, the same bytes."""

import inspect
import re
import signal
import subprocess
import sys
import time

import pytest

import emprox


def journal(out, run=0):
    return (out / f"seed-{run}" / "trials.jsonl").read_bytes()


def test_run_writes_the_cli_journal_bytes(root, cli, tmp_path):
    file = root / "examples" / "nb201_evolution.toml"
    r = emprox.run(file, tmp_path / "py", seed=4, seeds=2, overrides={"budget.max_queries": 40})
    subprocess.run(
        [cli, "run", file, "--out", tmp_path / "cli", "--seed", "4", "--seeds", "2",
         "--set", "budget.max_queries=40", "-q"],
        check=True, capture_output=True,
    )
    for run in (0, 1):
        assert journal(tmp_path / "py", run) == journal(tmp_path / "cli", run)
    assert len(r.trials) == 80
    assert r.summary is not None and len(r.summary["runs"]) == 2
    vals = [t["val_acc"] for t in r.trials]
    assert r.best is not None and r.best["val_acc"] == max(vals)


def test_a_bad_key_is_a_value_error_with_the_cli_message(root, cli, tmp_path):
    file = root / "examples" / "nb201_evolution.toml"
    with pytest.raises(ValueError) as e:
        emprox.run(file, tmp_path / "x", overrides={"budget.max_querie": 3})
    p = subprocess.run(
        [cli, "run", file, "--out", tmp_path / "y", "--set", "budget.max_querie=3"],
        capture_output=True, text=True,
    )
    assert p.returncode == 2
    assert p.stderr.strip() == f"error: {e.value}"
    assert "did you mean `max_queries`" in str(e.value)
    assert not (tmp_path / "x").exists()


def test_a_missing_file_and_a_used_folder_are_errors(root, tmp_path):
    with pytest.raises(ValueError, match="cannot read experiment file"):
        emprox.run(tmp_path / "nope.toml", tmp_path / "o")
    file = root / "examples" / "nb201_random.toml"
    emprox.run(file, tmp_path / "o", seeds=1, overrides={"budget.max_queries": 3})
    with pytest.raises(RuntimeError, match="overwrite"):
        emprox.run(file, tmp_path / "o", seeds=1, overrides={"budget.max_queries": 3})
    again = emprox.run(file, tmp_path / "o", seeds=1, overwrite=True,
                       overrides={"budget.max_queries": 5})
    assert len(again.trials) == 5


def test_resume_of_a_finished_run_changes_nothing(root, tmp_path):
    file = root / "examples" / "nb201_random.toml"
    emprox.run(file, tmp_path / "o", seeds=1, overrides={"budget.max_queries": 5})
    before = journal(tmp_path / "o")
    r = emprox.resume(tmp_path / "o")
    assert journal(tmp_path / "o") == before and len(r.trials) == 5


SLOW = """name = "slow"
seed = 2
seeds = 1
[benchmark]
type = "nasbench201"
dataset = "cifar10"
[strategy]
type = "regularized_evolution"
population_size = 5
sample_size = 2
[budget]
max_queries = 40
[evaluator]
type = "command"
[evaluator.command]
command = ["PYTHON", "-c", "import sys, time; time.sleep(0.05); print('{\\"val_acc\\": %d}' % (int(sys.argv[1]) % 97))", "{index}"]
"""

CTRL_C = """
import sys, emprox
emprox.run(sys.argv[1], sys.argv[2])
"""


def test_ctrl_c_raises_keyboard_interrupt_and_leaves_a_resumable_folder(tmp_path):
    file = tmp_path / "slow.toml"
    file.write_text(SLOW.replace("PYTHON", sys.executable))
    out = tmp_path / "o"
    p = subprocess.Popen([sys.executable, "-c", CTRL_C, str(file), str(out)],
                         stderr=subprocess.PIPE, text=True)
    trials = out / "seed-0" / "trials.jsonl"
    deadline = time.time() + 60
    while time.time() < deadline and (not trials.exists() or trials.read_bytes().count(b"\n") < 5):
        time.sleep(0.02)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=60)
    assert p.returncode != 0 and "KeyboardInterrupt" in err, err
    assert not (out / "summary.json").exists()
    n = trials.read_bytes().count(b"\n")
    assert 5 <= n < 40
    r = emprox.resume(out)
    assert r.summary is not None and len(r.trials) == 40
    emprox.run(file, tmp_path / "whole")
    assert journal(out) == journal(tmp_path / "whole")


COMPARISON = """name = "cmp"
seed = 0
seeds = 2
datasets = ["cifar10"]
report_at = [10, 20]
[budget]
max_queries = 20
[[experiments]]
label = "RS"
strategy = { type = "random" }
[[experiments]]
label = "RE"
strategy = { type = "regularized_evolution", population_size = 5, sample_size = 2 }
"""


def test_compare_returns_the_cli_table(root, cli, tmp_path):
    file = tmp_path / "cmp.toml"
    file.write_text(COMPARISON)
    table = emprox.compare(file, tmp_path / "py", seeds=2)
    p = subprocess.run([cli, "compare", file, "--out", tmp_path / "cli", "--seeds", "2", "-q"],
                       check=True, capture_output=True, text=True)
    assert table.strip() and table in p.stdout
    # The folder as data: each experiment's trials, and one DataFrame of all.
    cmp = emprox.load(tmp_path / "py")
    assert isinstance(cmp, emprox.Comparison) and len(cmp.experiments) >= 2
    for key, r in cmp.experiments.items():
        assert r.summary is not None and len(r.summary["runs"]) == 2, key
        assert {t["run"] for t in r.trials} == {0, 1}
    pd = pytest.importorskip("pandas")
    df = cmp.to_pandas()
    assert len(df) == sum(len(r.trials) for r in cmp.experiments.values())
    assert set(df["experiment"]) == {k.partition("/")[2] for k in cmp.experiments}


def test_load_gives_trials_and_a_data_frame(root, tmp_path):
    r = emprox.run(root / "examples" / "nb201_random.toml", tmp_path / "o", seeds=2,
                   overrides={"budget.max_queries": 7})
    again = emprox.load(tmp_path / "o")
    assert again.trials == r.trials and again.summary == r.summary
    assert [t["run"] for t in r.trials] == [0] * 7 + [1] * 7
    pd = pytest.importorskip("pandas")
    df = again.to_pandas()
    assert isinstance(df, pd.DataFrame) and len(df) == 14
    assert df["val_acc"].max() == r.best["val_acc"]


PREDICTORS = """[benchmark]
type = "nasbench201"
dataset = "cifar10"
[evaluation]
train_sizes = [20, 40]
test_size = 50
trials = 2
seed = 0
[[estimators]]
type = "gbdt"
rounds = 20
[[estimators]]
type = "knn_onehot"
"""


def test_eval_predictors_writes_what_the_cli_writes(cli, tmp_path):
    file = tmp_path / "p.toml"
    file.write_text(PREDICTORS)
    table = emprox.eval_predictors(file, tmp_path / "py")
    p = subprocess.run([cli, "eval-predictors", file, "--out", tmp_path / "cli", "-q"],
                       check=True, capture_output=True, text=True)
    # The same table but for its wall-clock columns (fit and query seconds).
    cells = lambda text: [line.split("|")[1:10] for line in text.splitlines()  # noqa: E731
                          if line.startswith("| ")]
    assert "gbdt" in table and cells(table) == cells(p.stdout) and len(cells(table)) == 5
    for name in ("predictions.csv", "splits.json"):
        assert (tmp_path / "py" / name).read_bytes() == (tmp_path / "cli" / name).read_bytes()
    file.write_text(PREDICTORS.replace("rounds = 20", "roundz = 20"))
    with pytest.raises(ValueError, match="roundz"):
        emprox.eval_predictors(file, tmp_path / "bad")


def test_keep_weights_is_read_and_checked_as_the_cli_reads_it(root, cli, tmp_path):
    file = root / "examples" / "nb201_random.toml"
    for which, flag in [("bogus", "bogus"), ("all", "all")]:
        with pytest.raises(ValueError) as e:
            emprox.run(file, tmp_path / "py", keep_weights=which)  # type: ignore[arg-type]
        p = subprocess.run([cli, "run", file, "--out", tmp_path / "cli", "--keep-weights", flag],
                           capture_output=True, text=True)
        assert p.returncode == 2 and f"error: {e.value}" in p.stderr, (e.value, p.stderr)
        assert not (tmp_path / "py").exists() and not (tmp_path / "cli").exists()
    assert "--keep-weights needs `[evaluator] type = \"train\"`" in str(e.value)
    with pytest.raises(ValueError, match="invalid value 'x' for '--keep-weights"):
        emprox.resume(tmp_path, keep_weights="x")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="--threads must be between 1 and"):
        emprox.run(file, tmp_path / "py", threads=0)


def listing(out, folder):
    path = out / "seed-0" / folder
    return sorted(p.name for p in path.iterdir()) if path.exists() else []


# Tiny trainings on the shipped digits (as engine/tests/fidelity.rs runs them).
TINY = {"evaluator.training.epochs": 3, "evaluator.training.max_train_images": 256,
        "evaluator.training.channels": 4}
TINY_CLI = [x for k, v in TINY.items() for x in ("--set", f"{k}={v}")]


def test_keep_checkpoints_and_keep_weights_keep_what_the_cli_keeps(root, cli, tmp_path):
    # Hyperband over 1 and 3 epochs: without --keep-checkpoints none is left at the end.
    file = root / "examples" / "train_digits_hyperband.toml"
    over = {**TINY, "budget.max_queries": 10, "evaluator.training.fidelity_epochs": [1]}
    emprox.run(file, tmp_path / "kept", overrides=over, keep_checkpoints=True, report=False)
    emprox.run(file, tmp_path / "gone", overrides=over)
    subprocess.run([cli, "run", file, "--out", tmp_path / "cli", *TINY_CLI,
                    "--set", "budget.max_queries=10",
                    "--set", "evaluator.training.fidelity_epochs=[1]",
                    "--keep-checkpoints", "--no-report", "-q"], check=True, capture_output=True)
    kept = listing(tmp_path / "kept", "checkpoints")
    assert kept and kept == listing(tmp_path / "cli", "checkpoints")
    assert listing(tmp_path / "gone", "checkpoints") == []
    assert not (tmp_path / "kept" / "report.html").exists()
    assert (tmp_path / "gone" / "report.html").exists()
    assert journal(tmp_path / "kept") == journal(tmp_path / "cli") == journal(tmp_path / "gone")
    # The weights of every trained cell, or of the incumbent only.
    file = root / "examples" / "train_digits_evolution.toml"
    over = {**TINY, "budget.max_queries": 3}
    emprox.run(file, tmp_path / "all", overrides=over, keep_weights="all")
    emprox.run(file, tmp_path / "inc", overrides=over, keep_weights="incumbents")
    subprocess.run([cli, "run", file, "--out", tmp_path / "cli-all", *TINY_CLI,
                    "--set", "budget.max_queries=3", "--keep-weights", "all", "-q"],
                   check=True, capture_output=True)
    queries = lambda out: {n.split(".")[0] for n in listing(out, "weights")}  # noqa: E731
    assert listing(tmp_path / "all", "weights") == listing(tmp_path / "cli-all", "weights")
    assert queries(tmp_path / "all") == {"q1", "q2", "q3"}
    assert len(queries(tmp_path / "inc")) == 1
    # compare takes --keep-checkpoints (and --no-report) too.
    cmp = tmp_path / "cmp.toml"
    cmp.write_text(COMPARISON)
    assert emprox.compare(cmp, tmp_path / "cmp", seeds=1, keep_checkpoints=True, report=False)
    assert not (tmp_path / "cmp" / "report.html").exists()


# Python keyword of each flag whose name differs (`--set K=V` is `overrides={K: V}`).
RENAMED = {"set": "overrides", "no_report": "report", "out_dir": "out"}


@pytest.mark.parametrize("command", ["run", "resume", "compare", "eval-predictors"])
def test_every_flag_of_the_command_is_a_keyword(cli, command):
    """A flag added to `emprox run|resume|compare|eval-predictors` and not to the Python
    function fails here."""
    help_text = subprocess.run([cli, command, "--help"], check=True, capture_output=True,
                               text=True).stdout
    flags = set(re.findall(r"^\s+(?:-\w, )?--([a-z][a-z-]*)", help_text, re.M))
    flags -= {"help", "quiet", "verbose"}  # global options: `quiet=` is the bar, not the log
    # The pattern finds the flags: those every one of these commands has.
    assert "overwrite" in flags or command == "resume", help_text
    assert "keep-checkpoints" in flags or command == "eval-predictors", help_text
    params = inspect.signature(getattr(emprox, command.replace("-", "_"))).parameters
    missing = [f for f in flags if RENAMED.get(f.replace("-", "_"), f.replace("-", "_"))
               not in params]
    assert not missing, f"emprox.{command} has no keyword for --{', --'.join(missing)}"


SLOW_COMMAND = """name = "sleepy"
seed = 1
seeds = 1
[benchmark]
type = "nasbench201"
dataset = "cifar10"
[strategy]
type = "random"
[budget]
max_queries = 8
[evaluator]
type = "command"
workers = 2
[evaluator.command]
command = ["PYTHON", "SCRIPT", "{index}"]
"""

# While the folder `calls` exists, the fourth call and those after it take 60 s.
SLEEPY = """import os, sys, time
calls = os.path.join(os.path.dirname(__file__), "calls")
n = len(os.listdir(calls)) if os.path.isdir(calls) else -1
if n >= 0:
    open(os.path.join(calls, str(time.time_ns())), "w").close()
time.sleep(60 if n >= 3 else 0.02)
print('{"val_acc": %d}' % (int(sys.argv[1]) % 97))
"""


# Ctrl-C, then (once told on stdin) the same process resumes: commands start again.
CTRL_C_THEN_RESUME = """
import sys, emprox
try:
    emprox.run(sys.argv[1], sys.argv[2])
except KeyboardInterrupt:
    print("interrupted", flush=True)
sys.stdin.readline()
r = emprox.resume(sys.argv[2])
print("resumed", len(r.trials), flush=True)
"""


def test_ctrl_c_stops_running_commands_as_the_cli_does_and_resumes_to_the_same_journal(
        tmp_path):
    """The CLI's Ctrl-C kills its commands' process groups and exits; emprox.run's kills them
    too and raises KeyboardInterrupt, without waiting for commands that would take 60 s; the
    same process then resumes the folder to the journal of an uninterrupted run."""
    script = tmp_path / "sleepy.py"
    script.write_text(SLEEPY)
    (tmp_path / "calls").mkdir()
    file = tmp_path / "sleepy.toml"
    file.write_text(SLOW_COMMAND.replace("PYTHON", sys.executable).replace("SCRIPT", str(script)))
    out = tmp_path / "o"
    p = subprocess.Popen([sys.executable, "-c", CTRL_C_THEN_RESUME, str(file), str(out)],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert p.stdin is not None and p.stdout is not None
    trials = out / "seed-0" / "trials.jsonl"
    deadline = time.time() + 60
    while time.time() < deadline and len(list((tmp_path / "calls").iterdir())) < 5:
        time.sleep(0.02)
    time.sleep(0.5)  # both workers in a 60 s command
    start = time.time()
    p.send_signal(signal.SIGINT)
    assert p.stdout.readline().strip() == "interrupted"
    took = time.time() - start
    # The commands' grace is 2 s (SIGTERM, then SIGKILL): python ends at SIGTERM.
    assert took < 5, f"Ctrl-C took {took:.1f} s: it waited for the commands"
    assert not (out / "summary.json").exists()
    n = trials.read_bytes().count(b"\n")
    assert 2 <= n < 8, n
    # Continued with fast commands: the same journal as one uninterrupted run.
    (tmp_path / "calls").rename(tmp_path / "calls.old")
    p.stdin.write("go\n")
    p.stdin.flush()
    assert p.stdout.readline().strip() == "resumed 8"
    assert p.wait(timeout=60) == 0
    emprox.run(file, tmp_path / "whole")
    assert journal(out) == journal(tmp_path / "whole")


CTRL_C_TRAIN = """
import sys, emprox
emprox.run(sys.argv[1], sys.argv[2], overrides={
    "evaluator.training.epochs": 10000, "evaluator.training.max_train_images": 256,
    "evaluator.training.channels": 4, "budget.max_queries": 2})
"""


def test_ctrl_c_stops_a_training_at_its_next_step(root, tmp_path):
    """The CLI's Ctrl-C exits with trainings in flight; emprox.run's stops them at their next
    step (two workers, each in a 10,000-epoch training) and leaves nothing journaled."""
    out = tmp_path / "o"
    p = subprocess.Popen([sys.executable, "-c", CTRL_C_TRAIN,
                          str(root / "examples" / "train_digits_evolution.toml"), str(out)],
                         stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while time.time() < deadline and not (out / "seed-0").exists():
        time.sleep(0.05)
    time.sleep(2)
    start = time.time()
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=60)
    took = time.time() - start
    assert p.returncode != 0 and "KeyboardInterrupt" in err, err
    assert took < 5, f"Ctrl-C took {took:.1f} s: it waited for the trainings"
    trials = out / "seed-0" / "trials.jsonl"
    assert not trials.exists() or trials.read_bytes() == b""
    assert (out / "run.json").exists() and not (out / "summary.json").exists()
