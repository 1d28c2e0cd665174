"""The errors gfr-keras raises for bad input, in the library's own terms.

Every error a user can cause (a bad argument, an unreadable or malformed file, a
run folder that holds something else) is a `GFRError`. It carries what was wrong
as data, not only as text, so that a caller (the `gfr` command) can say it in its
own terms without matching strings:

* `parameter`: the Python parameter (keyword argument) that was wrong, e.g. `"chunk_size"`;
  the command maps it to its flag (`--chunk-size`).
* `path`: the file or folder concerned.
* `record`, `cell_id`, `field`: where inside a file.
* `reason`: a short, stable code for the kind of failure (`"missing_stimulus"`,
  `"not_in_cache"`, ...), for callers that count failures by kind.

Each subclass also derives from the built-in exception that code written before
this module caught (`ValueError`, `FileNotFoundError`), so `except ValueError`
keeps working.

    GFRError
    ├── InvalidParameterError (ValueError)   an argument out of range or of the wrong kind
    ├── InputError (ValueError)              a file or folder that cannot be used as input
    │   ├── ParameterError                     a neuron parameter dict (gfr_keras.neurons)
    │   │   └── DatasetError                   a dataset file or record (gfr_keras.dataset)
    │   ├── ConfigError                        a fit config (gfr_keras.fitting)
    │   └── CellProcessingError                one cell that cannot be processed (gfr_keras.ephys)
    ├── MissingInputError (FileNotFoundError)  a file or folder that does not exist
    ├── MissingRecordError (KeyError)          a cell (or record) asked for is not in the input
    ├── OutputError (ValueError)             a place that cannot be written as asked
    └── RunStateError (ValueError)           a run, fit or bank folder that holds other work
"""


class GFRError(Exception):
    """Base of the errors that bad input causes. `str(error)` is the whole message."""

    def __init__(self, message, *, parameter=None, path=None, record=None, cell_id=None, field=None, reason=None):
        super().__init__(message)
        self.message = message
        self.parameter = parameter
        self.path = None if path is None else str(path)
        self.record = record
        self.cell_id = cell_id
        self.field = field
        self.reason = reason

    def __str__(self):
        return self.message

    def __reduce__(self):  # picklable across process pools, keyword fields included
        return (_rebuild, (type(self), self.message, self.details()))

    def details(self):
        """The structured fields that are set, as a dict."""
        names = ("parameter", "path", "record", "cell_id", "field", "reason")
        return {name: getattr(self, name) for name in names if getattr(self, name) is not None}


def _rebuild(cls, message, details):
    return cls(message, **details)


class InvalidParameterError(GFRError, ValueError):
    """A function argument is out of range or of the wrong kind; `parameter` names it."""


class InputError(GFRError, ValueError):
    """A file or folder exists but cannot be used as input; `path` names it."""


class MissingInputError(GFRError, FileNotFoundError):
    """A file or folder given as input does not exist; `path` names it."""

    def __init__(self, message, **details):
        GFRError.__init__(self, message, **details)

    def __str__(self):
        return self.message


class MissingRecordError(GFRError, KeyError):
    """A cell or record asked for is not in the input (a dataset, a configuration); `cell_id` names it."""

    def __str__(self):  # KeyError would show the repr of its argument
        return self.message


class OutputError(GFRError, ValueError):
    """The output cannot be written where asked (exists as another kind, not ours to replace)."""


class RunStateError(GFRError, ValueError):
    """A run, fit or bank folder already holds work made with other settings, or finished work."""


def check_finite_number(value, parameter, *, minimum=None, maximum=None, exclusive_minimum=False, integer=False):
    """`value` as a float (or int with `integer`), or `InvalidParameterError` naming `parameter`.

    Rejects booleans, non-numbers, NaN and infinities, values below `minimum` (or equal to it
    with `exclusive_minimum`) and above `maximum`.
    """
    import numbers
    import math

    kind = "an integer" if integer else "a finite number"
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or (integer and not isinstance(value, numbers.Integral)):
        raise InvalidParameterError(f"{parameter}: expected {kind}, got {value!r}", parameter=parameter)
    if not integer and not math.isfinite(value):
        raise InvalidParameterError(f"{parameter}: expected {kind}, got {value!r}", parameter=parameter)
    if minimum is not None and (value < minimum or (exclusive_minimum and value == minimum)):
        bound = f"> {minimum}" if exclusive_minimum else f">= {minimum}"
        raise InvalidParameterError(f"{parameter}: expected a value {bound}, got {value!r}", parameter=parameter)
    if maximum is not None and value > maximum:
        raise InvalidParameterError(f"{parameter}: expected a value <= {maximum}, got {value!r}", parameter=parameter)
    return int(value) if integer else float(value)
