"""How the `gfr` command ends when a stage fails: one line for the user's errors, a report file for bugs.

* A `gfr_keras.errors.GFRError` (bad input, in the library's terms) becomes
  `gfr STAGE: error: <message>` with the parameter it names shown as the stage's flag; exit 2.
* Other errors a user can cause (a path that cannot be read or written, a file that is not
  text, input nested too deeply, a number too large) also end in one line naming the thing; exit 2.
* Anything else is a bug: the traceback goes to a file, the line says where and asks for a report; exit 1.
"""

import datetime
import os
import re
import sys
import tempfile
import traceback

#: Exit statuses: a user's error (as argparse's own), a bug, an interrupt (128 + SIGINT).
USAGE_ERROR, BUG, INTERRUPTED = 2, 1, 130


def option_flags(parser):
    """Every option string (`--lr`, `-h`, ...) of a stage's parser."""
    return {flag for action in parser._actions for flag in action.option_strings}


def flag_for(parameter, overrides, flags):
    """The stage's flag for a library parameter: `overrides[parameter]`, else `--` + its name with
    dashes; None when the stage has no such flag (the message then keeps the library's name)."""
    candidate = overrides.get(parameter) or "--" + str(parameter).replace("_", "-")
    return candidate if candidate in flags else None


def in_flag_terms(error, overrides, flags):
    """`str(error)` with the parameter names that head it (`chunk_size: ...`,
    `bin_size_ms/activation_bin_size_ms: ...`) replaced by the stage's flags, or the parameter's
    flag put in front of a message that does not start with it."""
    message = _mentions_as_flags(str(error), overrides, flags)
    if not getattr(error, "parameter", None):
        return message
    head, separator, rest = message.partition(": ")
    names = [name.strip() for name in head.replace(", ", "/").split("/")]
    if separator and error.parameter in names:
        mapped = [flag_for(name, overrides, flags) for name in names]
        if all(mapped):
            return "/".join(mapped) + ": " + rest
    flag = flag_for(error.parameter, overrides, flags)
    if flag and not message.startswith(flag):
        return f"{flag}: {message}"
    return message


def _mentions_as_flags(message, overrides, flags):
    """Parameters a message points to in parentheses, `(units)` or `(replace=True)`, as the stage's
    flags (`(--n-nodes)`, `(--sample-with-replacement)`); others stay as they are."""

    def as_flag(match):
        flag = flag_for(match.group(1), overrides, flags)
        return f"({flag})" if flag else match.group(0)

    return re.sub(r"\((\w+)(?:=True)?\)", as_flag, message)


def _os_error_message(error):
    """An OSError as `<path>: <what is wrong>`, e.g. `out/x: permission denied`."""
    what = {
        PermissionError: "permission denied",
        IsADirectoryError: "is a folder, expected a file",
        NotADirectoryError: "a part of this path is not a folder",
        FileExistsError: "exists, and is not what is wanted there (a file where a folder is needed, or the reverse)",
        FileNotFoundError: "does not exist",
    }.get(type(error), (error.strerror or str(error)).lower())
    if error.filename is None:  # raised with a message of its own, or by a library that names no path
        return str(error)
    paths = f"{error.filename}" + (f" -> {error.filename2}" if error.filename2 is not None else "")
    return f"{paths}: {what}"


def user_error_message(error, overrides, flags):
    """The one-line message for an error the user caused, or None for a bug."""
    from gfr_keras.errors import GFRError

    if isinstance(error, GFRError):
        return in_flag_terms(error, overrides, flags)
    if isinstance(error, OSError):
        return _os_error_message(error)
    if isinstance(error, UnicodeDecodeError):
        return f"a file that is not UTF-8 text ({error.reason} at byte {error.start})"
    if isinstance(error, RecursionError):
        return "the input is nested too deeply to read (thousands of levels)"
    if isinstance(error, OverflowError):
        return f"a number too large: {error}"
    if type(error) is ValueError:
        # Argument checks of the library not yet typed: their messages name the parameter.
        return str(error)
    return None


def crash_folder():
    """Where bug reports go: `$XDG_CACHE_HOME/gfr` (default `~/.cache/gfr`), else the temp folder."""
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    for folder in (os.path.join(cache, "gfr"), os.path.join(tempfile.gettempdir(), "gfr")):
        try:
            os.makedirs(folder, exist_ok=True)
            if os.access(folder, os.W_OK):
                return folder
        except OSError:
            continue
    return tempfile.gettempdir()


def write_bug_report(error, argv):
    """Write the traceback of `error` (with the command line and versions) to a new file; its path."""
    from gfr_keras import __version__
    from gfr_keras.io_utils import atomic_path

    stamp = datetime.datetime.now().strftime("%Y%m%dT%H%M%S")
    path = os.path.join(crash_folder(), f"gfr-crash-{stamp}-{os.getpid()}.txt")
    text = (
        f"command: gfr {' '.join(argv)}\n"
        f"gfr-keras {__version__}, Python {sys.version.split()[0]}, {sys.platform}\n\n"
        + "".join(traceback.format_exception(type(error), error, error.__traceback__))
    )
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(text)
    return path


def report(error, command, argv, overrides=None, flags=()):
    """Print the one line for `error` raised by stage `command`; the exit status."""
    if isinstance(error, KeyboardInterrupt):
        print(f"gfr {command}: interrupted", file=sys.stderr)
        return INTERRUPTED
    message = user_error_message(error, overrides or {}, set(flags))
    if message is not None:
        print(f"gfr {command}: error: {' '.join(message.split())}", file=sys.stderr)
        return USAGE_ERROR
    try:
        path = write_bug_report(error, argv)
        where = f"the traceback is in {path}"
    except OSError as write_error:  # no writable folder at all: the traceback goes to stderr
        traceback.print_exception(type(error), error, error.__traceback__)
        where = f"the traceback is above (it could not be written to a file: {write_error})"
    print(
        f"gfr {command}: internal error (a bug): {type(error).__name__}: {' '.join(str(error)[:300].split())}; {where}; "
        "please report it with that file",
        file=sys.stderr,
    )
    return BUG
