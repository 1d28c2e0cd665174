"""argparse `type=` functions for the `gfr` stages' numeric options: checked when parsed.

A bad value ends in argparse's one line, e.g.
`gfr train-network: error: argument --lr: expected a finite number > 0, got 'nan'`, exit 2,
before any library is imported or any work starts.

Each function here is built by `number(...)` and named for the help and error texts.
"""

import argparse
import math

#: Cell ids are stored as int64 (pandas columns, HDF5 attributes): larger ids cannot be held.
INT64_MAX = 2**63 - 1
#: Counts (cells, epochs, images, workers) are int32 in TensorFlow and NumPy index arithmetic.
COUNT_MAX = 2**31 - 1
#: Seeds go to NumPy and Keras (`keras.utils.set_random_seed`), which take 32-bit seeds.
SEED_MAX = 2**32 - 1


def number(kind, minimum=None, maximum=None, exclusive_minimum=False):
    """A type function parsing `kind` (int or float) and checking it is finite and in range.

    Args:
        kind: `int` (digits only: "1.5" and "1e3" are refused) or `float`.
        minimum, maximum: inclusive bounds (None: unbounded); `exclusive_minimum` makes the
            lower bound exclusive (`> minimum`).
    """
    what = "an integer" if kind is int else "a finite number"
    bounds = []
    if minimum is not None:
        bounds.append(f"> {minimum:g}" if exclusive_minimum else f">= {minimum:g}")
    if maximum is not None:
        bounds.append(f"<= {maximum:g}" if kind is float else f"<= {maximum}")
    expected = what + (" " + " and ".join(bounds) if bounds else "")

    def parse(text):
        try:
            value = kind(text)
        except (ValueError, OverflowError):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        if kind is float and not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        too_low = minimum is not None and (value < minimum or (exclusive_minimum and value == minimum))
        if too_low or (maximum is not None and value > maximum):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value

    parse.__name__ = expected  # argparse names the type in some messages
    return parse


#: A count of at least one (cells, epochs, workers, ...).
positive_int = number(int, minimum=1, maximum=COUNT_MAX)
#: A count that may be zero (e.g. "draw the N best": 0 draws none).
non_negative_int = number(int, minimum=0, maximum=COUNT_MAX)
#: A learning rate, a scale factor: finite and > 0.
positive_float = number(float, minimum=0, exclusive_minimum=True)
#: A penalty: finite and >= 0.
non_negative_float = number(float, minimum=0)
#: A random seed.
seed = number(int, minimum=0, maximum=SEED_MAX)
#: An Allen cell (specimen) id.
cell_id = number(int, minimum=0, maximum=INT64_MAX)


def add_mode(parser, flag, modes, help):
    """Add `flag`, taking one of the words `modes`; the first is the default (the published behaviour, where
    there is one). The help says what each mode does."""
    parser.add_argument(flag, choices=list(modes), default=modes[0], help=help)


def usage_error(parameter, text):
    """The error for a stage's own option `parameter` (flag `--` + its name with dashes), raised in `run`
    for checks that need several options or files: `gfr STAGE: error: --flag: text`, exit 2."""
    from gfr_keras.errors import InvalidParameterError

    flag = "--" + parameter.replace("_", "-")
    return InvalidParameterError(text if text.startswith(flag) else f"{flag}: {text}", parameter=parameter)
