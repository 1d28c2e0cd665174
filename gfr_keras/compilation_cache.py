"""A persistent cache of compiled (XLA) steps, so a second run does not compile again.

The first `model.fit` of a GFR network spends most of its first epoch in
XLA's compiler (docs/benchmarks.md, "Where the first epoch goes"). Both
backends can keep what they compiled on disk, keyed by the program and the
shapes it was compiled for; a later process that builds the same step loads
it instead. `gfr` turns this on for every stage that uses Keras
(`GFR_COMPILATION_CACHE`: another folder, or `off`).

    import gfr_keras
    gfr_keras.enable_compilation_cache()   # before the first fit / predict
"""

import os

#: Environment variable read by `gfr`: a folder for the cache, or "off".
ENVIRONMENT_VARIABLE = "GFR_COMPILATION_CACHE"
_TENSORFLOW_FLAG = "--tf_xla_persistent_cache_directory"


def default_cache_directory():
    """`$XDG_CACHE_HOME/gfr/compiled` (`~/.cache/gfr/compiled` when the variable is unset)."""
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(cache, "gfr", "compiled")


def enable_compilation_cache(directory=None, backend=None, min_compile_time_s=1.0):
    """Keep compiled steps in `directory` (default: `default_cache_directory()`), one folder per backend.

    Call it before the process runs its first TensorFlow op: TensorFlow reads
    its XLA flags (`TF_XLA_FLAGS`) once, when it sets up its devices at the
    first op (a later call is silently ignored: nothing is cached); JAX reads
    its setting at every compilation. A cached step is used only for the same
    program, shapes and compiler, so the cache never changes a result; delete
    the folder to reclaim its space.

    Args:
        directory: where the cache lives (created).
        backend: `"tensorflow"` or `"jax"`; None: Keras' backend.
        min_compile_time_s: JAX keeps only steps that took at least this long
            to compile (TensorFlow keeps every compiled step).

    Returns:
        The folder used, or None for a backend without a persistent cache.
    """
    if backend is None:
        import keras

        backend = keras.backend.backend()
    if backend not in ("tensorflow", "jax"):
        return None
    folder = os.path.join(os.fspath(directory or default_cache_directory()), backend)
    os.makedirs(folder, exist_ok=True)
    if backend == "tensorflow":
        flags = os.environ.get("TF_XLA_FLAGS", "").split()
        already = [flag.split("=", 1)[1] for flag in flags if flag.startswith(_TENSORFLOW_FLAG + "=")]
        if already:  # set before (by the user or an earlier call): that folder is the one TensorFlow uses
            return already[0]
        os.environ["TF_XLA_FLAGS"] = " ".join([*flags, f"{_TENSORFLOW_FLAG}={folder}"])
    else:
        import jax

        jax.config.update("jax_compilation_cache_dir", folder)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", float(min_compile_time_s))
    return folder


def cache_setting_from_environment():
    """What `gfr` does: `(enabled, folder or None)` from `GFR_COMPILATION_CACHE` (unset: on, default folder)."""
    value = os.environ.get(ENVIRONMENT_VARIABLE, "").strip()
    if value.lower() in ("off", "0", "false", "no"):
        return False, None
    return True, value or None
