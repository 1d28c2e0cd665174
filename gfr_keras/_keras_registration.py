"""Registering gfr-keras's Keras classes without importing Keras at `import gfr_keras`.

Why: importing Keras imports TensorFlow (5 to 8 s on 2 cores), and the `gfr`
commands that need no Keras (`synth-cells`, `preprocess`, `build-dataset`,
`summary`) should not pay it; so the packages name their public attributes
through `lazy_loader.attach` instead of importing them.

`.keras` files name gfr-keras's layers, which Keras finds only once their
modules have run `keras.saving.register_keras_serializable`. The promise kept:
after `import gfr_keras`, `keras.saving.load_model` finds them, whether Keras
was imported before gfr_keras or after it. `register_keras_classes` is the
explicit registration (import every class module); `register_keras_classes_with_keras`
runs it now if Keras is loaded, else once Keras is imported.
"""

import importlib
import importlib.abc
import sys
import threading

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


def register_keras_classes():
    """Import every module with a registered Keras class (Keras itself is imported too)."""
    for module in KERAS_CLASS_MODULES:
        importlib.import_module(module)


def register_keras_classes_with_keras():
    """Register now if Keras is loaded (cheap then), else as soon as Keras is imported (`_RegisterAfterKeras`)."""
    if "keras" in sys.modules:
        register_keras_classes()
    elif not any(isinstance(finder, _RegisterAfterKeras) for finder in sys.meta_path):
        # First in the list: the path finder would otherwise find Keras without it. It removes itself once done.
        sys.meta_path.insert(0, _RegisterAfterKeras())


class _ChainedLoader(importlib.abc.Loader):
    """The loader another finder found, run unchanged between `finder.started` and `finder.finished`."""

    def __init__(self, loader, fullname, finder):
        self.loader, self.fullname, self.finder = loader, fullname, finder

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        module.__loader__ = self.loader  # the module keeps its own loader (source, resources)
        self.finder.started(self.fullname)
        try:
            self.loader.exec_module(module)
        except BaseException:
            self.finder.finished(self.fullname, succeeded=False)
            raise
        self.finder.finished(self.fullname, succeeded=True)

    def __getattr__(self, name):  # get_source, get_resource_reader, ...: the real loader's
        return getattr(self.loader, name)


class _RegisterAfterKeras(importlib.abc.MetaPathFinder):
    """Registers gfr-keras's classes once Keras is imported and no gfr_keras module is half-imported.

    Keras may be imported by the user (`import keras`) or by a gfr_keras module that
    needs it (`gk.GFR` imports `gfr_keras.neurons.layer`, which imports Keras). In the
    second case the class modules cannot be imported yet (they import that half-done
    module), so registration waits until the outermost gfr_keras import has finished.
    Python has no post-import hook, so the finder chains the loaders of `keras` and
    `gfr_keras.*` (the other finders still locate them; their loaders are not changed)
    and counts the gfr_keras modules running, under a lock, across threads.
    """

    def __init__(self):
        self.lock = threading.Lock()
        self.running = 0  # gfr_keras modules being imported, nested or in other threads

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "keras" and not fullname.startswith("gfr_keras."):
            return None
        spec = next((s for s in self._other_specs(fullname, path, target) if s is not None), None)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        spec.loader = _ChainedLoader(spec.loader, fullname, self)
        return spec

    def _other_specs(self, fullname, path, target):
        for finder in list(sys.meta_path):
            if finder is not self and hasattr(finder, "find_spec"):
                yield finder.find_spec(fullname, path, target)

    def started(self, fullname):
        with self.lock:
            self.running += fullname != "keras"

    def finished(self, fullname, succeeded):
        """Count the module done; after the outermost successful one, with Keras loaded, register (once)."""
        with self.lock:
            self.running -= fullname != "keras"
            ready = succeeded and self.running == 0 and "keras" in sys.modules and self in sys.meta_path
            if ready:
                sys.meta_path.remove(self)  # once; the class modules below load without it
        if ready:
            register_keras_classes()
