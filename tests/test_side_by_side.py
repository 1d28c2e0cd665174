"""Side-by-side comparisons: seeds apart from the digits, the rule for an order, ratios measured in the same run."""

import json
import math

import keras
import numpy as np
import pytest
from fixtures import load_script

from gfr_keras.comparison import compare, mean_sd
from gfr_keras.network.mnist import load_mnist
from gfr_keras.network.train import digits_digest
from training.cli import main

fit_throughput, lmnist_accuracy = load_script("benchmarks/fit_throughput.py"), load_script("benchmarks/lmnist_accuracy.py")
published_seconds, rows = fit_throughput.published_seconds, fit_throughput.rows
check_same_digits, compare_models = lmnist_accuracy.check_same_digits, lmnist_accuracy.compare_models


def test_seeds_vary_the_weights_not_the_digits(tmp_path):
    """`--seed` changes the run; the validation and test digits stay those of `--split-seed` (0 by default)."""
    small = ["train-network", "--baseline", "simple_rnn", "--n-nodes", "8", "--limit", "256", "--epochs", "1",
             "--jit-compile", "off"]
    results, weights = {}, {}
    for seed in (0, 1):
        out = tmp_path / f"seed_{seed}"
        assert main([*small, "--seed", str(seed), "--out", str(out)]) == 0
        results[seed] = json.loads((out / "result.json").read_text())
        weights[seed] = keras.saving.load_model(out / "best.keras").get_weights()
    assert (results[0]["seed"], results[1]["seed"], results[1]["split_seed"]) == (0, 1, 0)
    for key in ("validation_digits_sha1", "test_digits_sha1"):
        assert results[0][key] == results[1][key]
    assert not np.allclose(weights[0][0], weights[1][0])  # the input kernel: initialised from the seed
    # The digest is that of the split: another --split-seed would test on other digits.
    assert results[0]["test_digits_sha1"] == digits_digest(*load_mnist(limit=256, seed=0)["test"])
    assert results[0]["test_digits_sha1"] != digits_digest(*load_mnist(limit=256, seed=1)["test"])


def test_an_order_only_beyond_twice_the_pooled_sd():
    assert mean_sd([0.90, 0.92, 0.94]) == pytest.approx((0.92, 0.02))  # sd with n - 1
    # 3 points apart, sds 1 point: 3 pooled sds -> an order.
    assert compare("a", [0.95, 0.96, 0.97], "b", [0.92, 0.93, 0.94])["verdict"] == "a above b"
    assert compare("a", [0.92, 0.93, 0.94], "b", [0.95, 0.96, 0.97])["verdict"] == "b above a"
    # 1.5 points apart with the same sds: 1.5 pooled sds -> within the spread, whatever Welch's t says.
    close = compare("a", [0.945, 0.955, 0.965], "b", [0.93, 0.94, 0.95])
    assert close["verdict"] == "within the spread" and close["spreads"] == pytest.approx(1.5)
    assert close["difference"] == pytest.approx(0.015) and close["welch_t"] > 1.8
    one = compare("a", [0.99], "b", [0.10, 0.11])
    assert one["verdict"] == "one seed, no order" and math.isnan(one["pooled_sd"])


def test_comparisons_use_every_seed_and_refuse_other_digits():
    def run(val, test, digest="t1"):
        return {"best_val_accuracy": val, "test_accuracy": test, "validation_digits_sha1": "v1",
                "test_digits_sha1": digest, "data": "offline"}

    runs = {"lstm": {0: run(0.95, 0.96), 1: run(0.96, 0.97), 2: run(0.97, 0.98)},
            "gru": {0: run(0.95, 0.92), 1: run(0.96, 0.93), 2: run(0.97, 0.94)}}
    (row,) = compare_models(runs)
    assert row["best_val_accuracy"]["verdict"] == "within the spread"  # identical validation
    assert row["test_accuracy"]["verdict"] == "lstm above gru" and row["test_accuracy"]["difference"] == pytest.approx(0.04)
    assert check_same_digits(runs)["test_digits_sha1"] == "t1"
    runs["gru"][2] = run(0.97, 0.94, digest="t2")
    with pytest.raises(SystemExit, match="different digits"):
        check_same_digits(runs)


def test_the_published_timing_is_read_from_its_command_and_divided_by_the_median():
    command = "echo 'warm-up 9.9 s per epoch'; echo 'published per-cell loop on cpu: 0.812 s per epoch for one cell'"
    assert published_seconds(command) == 0.812  # the last figure printed
    with pytest.raises(RuntimeError, match="(?s)exited 3 without printing '<seconds> s per epoch'.*no figure here"):
        published_seconds("echo 'no figure here'; exit 3")
    with pytest.raises(RuntimeError, match="exited 1; "):  # a failing command's figure is not taken
        published_seconds("echo '0.5 s per epoch'; exit 1")
    measured = {"units": 1000, "make_cells_s": 1.0, "project_epoch_s": {True: [2.0, 1.0, 3.0]},
                "published_cell_epoch_s": [0.8, 1.0, 0.9], "load_average_1min": [2.0, 3.0]}
    (line,) = rows(measured, "tensorflow")
    assert "**450**" in line  # median 0.9 s / (median 2.0 s / 1000 units)
    (alone,) = rows({**measured, "published_cell_epoch_s": []}, "tensorflow")
    assert "no ratio" in alone and "not measured" in alone
