"""Package attributes imported on first use, and Keras registration without importing Keras.

Why: importing Keras imports TensorFlow (5 to 8 s on 2 cores), and the `gfr`
commands that need no Keras (`synth-cells`, `preprocess`, `build-dataset`,
`summary`) should not pay it. So the package `__init__`s name their public
attributes here instead of importing them (PEP 562 module `__getattr__`).

`.keras` files name gfr-keras's layers, which Keras finds only once their
modules have run `keras.saving.register_keras_serializable`. The promise kept:
after `import gfr_keras`, `keras.saving.load_model` finds them, whether Keras
was imported before gfr_keras or after it.
"""

import importlib
import importlib.abc
import importlib.util
import sys

# The modules whose classes are registered with Keras (layers, initializers, losses, optimizers).
KERAS_CLASS_MODULES = (
    "gfr_keras.neurons.activation",
    "gfr_keras.neurons.initializers",
    "gfr_keras.neurons.cell",
    "gfr_keras.neurons.layer",
    "gfr_keras.dataset.lookup",
    "gfr_keras.network.cell",
    "gfr_keras.network.readout",
    "gfr_keras.optimizers",
)


def lazy_attributes(package, exports):
    """`__getattr__`, `__dir__` and `__all__` for `package`, whose public names live in other modules.

    Args:
        package: the package's `__name__`.
        exports: `{module: (name, ...)}`: each name is imported from its module on first use.
            Any other attribute that is a submodule (`gfr_keras.network`) is imported on use too.
    """
    home = {name: module for module, names in exports.items() for name in names}

    def __getattr__(name):
        if name in home:
            value = getattr(importlib.import_module(home[name]), name)
        elif not name.startswith("_") and importlib.util.find_spec(f"{package}.{name}") is not None:
            value = importlib.import_module(f"{package}.{name}")
        else:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        setattr(sys.modules[package], name, value)  # the next lookup is a plain attribute
        return value

    def __dir__():
        return sorted(set(vars(sys.modules[package])) | set(home))

    return __getattr__, __dir__, sorted(home)


def register_keras_classes():
    """Import every module with a registered Keras class (Keras itself is imported too)."""
    for module in KERAS_CLASS_MODULES:
        importlib.import_module(module)


class _RegisterAfterKeras(importlib.abc.MetaPathFinder):
    """Registers gfr-keras's classes once Keras is imported and no gfr_keras module is half-imported.

    Keras may be imported by the user (`import keras`) or by a gfr_keras module that
    needs it (`gk.GFR` imports `gfr_keras.neurons.layer`, which imports Keras). In the
    second case the class modules cannot be imported yet (they import that half-done
    module), so registration waits until the outermost gfr_keras import has finished.
    The finder only wraps the loaders of `keras` and `gfr_keras.*`; other finders
    locate the modules.
    """

    def __init__(self):
        self.depth = 0  # gfr_keras modules being imported, nested

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "keras" and not fullname.startswith("gfr_keras."):
            return None
        for finder in sys.meta_path:
            spec = None if finder is self else finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        run_module = spec.loader.exec_module  # a source loader serves one module

        def exec_module(module):
            self.depth += fullname != "keras"
            try:
                run_module(module)
            finally:
                self.depth -= fullname != "keras"
            self.register_when_ready()

        spec.loader.exec_module = exec_module
        return spec

    def register_when_ready(self):
        if self.depth == 0 and "keras" in sys.modules and self in sys.meta_path:
            sys.meta_path.remove(self)  # once; the class modules below load without it
            register_keras_classes()


def register_keras_classes_with_keras():
    """Register now if Keras is loaded (cheap then), else as soon as Keras is imported (see above)."""
    if "keras" in sys.modules:
        register_keras_classes()
    elif not any(isinstance(finder, _RegisterAfterKeras) for finder in sys.meta_path):
        sys.meta_path.insert(0, _RegisterAfterKeras())
