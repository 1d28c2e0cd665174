"""A package's public names imported on first use (PEP 562, through `lazy_loader.attach`).

Each package `__init__` of gfr-keras names its submodules and public names here once, so that importing the
package imports none of them (no Keras, no TensorFlow) until a name is first read.
"""

import lazy_loader


def attach_lazily(package_name, names_by_module, other_modules=()):
    """`(__getattr__, __dir__, __all__)` for a package `__init__`, as `lazy_loader.attach` returns them.

    Args:
        package_name: the package's `__name__`.
        names_by_module: `{module: "Name other_name ..."}`: a module relative to the package (`"cell"`,
            `"ephys.processed"`) and the public names it provides, separated by white space.
        other_modules: submodules that provide no name here but are reachable as `package.module`.

    The package's submodules are the first parts of the keys and `other_modules`: each is named once.
    """
    submod_attrs = {module: names.split() for module, names in names_by_module.items()}
    submodules = {module.partition(".")[0] for module in submod_attrs} | set(other_modules)
    return lazy_loader.attach(package_name, submodules=sorted(submodules), submod_attrs=submod_attrs)
