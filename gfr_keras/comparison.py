"""Statistics of a side-by-side comparison: mean ± sd over seeds, median [range] over repeats, and when an order is claimed.

The benchmarks that set models or implementations side by side (L-MNIST
accuracy over seeds, fitting throughput over repeats) report through these, so
every table states its spread the same way and claims an order by one rule.
Plain Python (`math`, `statistics`): no Keras, no numpy.

The rule for an order between two models (`compare`): the difference of their
mean accuracies must exceed twice the pooled seed-to-seed standard deviation,
`sqrt((sd_a**2 + sd_b**2) / 2)`, each sd over that model's seeds (n - 1 in the
denominator). Otherwise the two are "within the spread". With fewer than two
seeds of either model there is no spread, so no order is claimed. Welch's t
is printed beside it for the reader; the rule does not use it.
"""

import math
import statistics

ORDER_RULE = (
    "an order is claimed only when the difference of the means exceeds 2 x the pooled seed-to-seed sd, "
    "sqrt((sd_a^2 + sd_b^2) / 2) (sd over each model's seeds, n - 1); otherwise 'within the spread'; "
    "with fewer than 2 seeds of a model: 'one seed, no order'"
)
#: How many pooled sds the difference of means must exceed.
SPREADS_FOR_AN_ORDER = 2.0


def mean_sd(values):
    """`(mean, sd)` of a list of numbers (e.g. one model's accuracies over seeds), in their unit.

    The sd has n - 1 in the denominator; it is NaN below two values, and both are NaN for none.
    """
    values = [float(v) for v in values]
    if not values:
        return math.nan, math.nan
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else math.nan


def format_mean_sd(values, digits=4):
    """`"0.9512 ± 0.0031 (n=3)"` (`digits` decimals), the single value with `(n=1)`, `"—"` for none."""
    mean, sd = mean_sd(values)
    if math.isnan(mean):
        return "—"
    spread = "" if math.isnan(sd) else f" ± {sd:.{digits}f}"
    return f"{mean:.{digits}f}{spread} (n={len(values)})"


def welch_t(a_values, b_values):
    """Welch's t of `mean(a) - mean(b)`; NaN below two values on either side or with no spread at all."""
    if len(a_values) < 2 or len(b_values) < 2:
        return math.nan
    (mean_a, sd_a), (mean_b, sd_b) = mean_sd(a_values), mean_sd(b_values)
    standard_error = math.sqrt(sd_a**2 / len(a_values) + sd_b**2 / len(b_values))
    return (mean_a - mean_b) / standard_error if standard_error > 0 else math.nan


def compare(name_a, a_values, name_b, b_values):
    """Whether `name_a` and `name_b` differ by more than their spread (see the module's rule).

    Args:
        name_a, name_b: the models' names, as the verdict spells them.
        a_values, b_values: each model's figure (e.g. test accuracy) over its seeds.

    Returns:
        `{"difference", "pooled_sd", "spreads", "welch_t", "verdict"}`: `difference`
        is `mean(a) - mean(b)`; `spreads` |difference| in pooled sds; `verdict`
        `"A above B"`, `"B above A"`, `"within the spread"` or `"one seed, no order"`.
    """
    (mean_a, sd_a), (mean_b, sd_b) = mean_sd(a_values), mean_sd(b_values)
    difference = mean_a - mean_b
    if math.isnan(sd_a) or math.isnan(sd_b):
        return {"difference": difference, "pooled_sd": math.nan, "spreads": math.nan, "welch_t": math.nan,
                "verdict": "one seed, no order"}
    pooled_sd = math.sqrt((sd_a**2 + sd_b**2) / 2)
    # No spread at all (identical seeds): any difference exceeds it; `spreads` is then None (JSON has no infinity).
    spreads = abs(difference) / pooled_sd if pooled_sd > 0 else None
    if (difference != 0) if spreads is None else spreads > SPREADS_FOR_AN_ORDER:
        verdict = f"{name_a} above {name_b}" if difference > 0 else f"{name_b} above {name_a}"
    else:
        verdict = "within the spread"
    return {"difference": difference, "pooled_sd": pooled_sd, "spreads": spreads,
            "welch_t": welch_t(a_values, b_values), "verdict": verdict}


def median_range(values, digits=3):
    """`"0.812 [0.790–0.861]"`: the median and the range of repeated timings (any unit; `digits` decimals)."""
    values = sorted(float(v) for v in values)
    return f"{statistics.median(values):.{digits}f} [{values[0]:.{digits}f}–{values[-1]:.{digits}f}]"
