"""Keyword names the network's Python API had before each word got one meaning (docs/model.md, "Words").

`neurons` named a kind of neuron (`"default"` / `"biological"`), a population's `GFRCell` config and a
layer; `protocol` named how a network is trained and a cell's stimulus set. The old keywords still work,
with a `DeprecationWarning`; the command line's flags (`--neurons`, `--protocol`) and the keys a run
records (`gfr_settings.json`, `result.json`) keep their names.
"""

import warnings

from gfr_keras.errors import InvalidParameterError

#: `build_model`, `build_gfr_network`, `compile_network`, `NetworkConfig.from_keywords`: old keyword -> field.
NETWORK_KEYWORDS = {"neurons": "neuron_kind", "protocol": "training_protocol"}

#: `GFRNetworkCell` (and the config of a `.keras` file saved before the rename): old keyword -> argument.
CELL_KEYWORDS = {"neurons": "population"}


def renamed_keywords(keywords, renames=NETWORK_KEYWORDS, warn=True, stacklevel=3):
    """`keywords` with each old name of `renames` replaced by its new one.

    Args:
        keywords: a function's keyword arguments (not changed).
        renames: old name -> new name.
        warn: a `DeprecationWarning` per old name given (False: a saved model's config, which its
            owner cannot change).
        stacklevel: as `warnings.warn`; the default points at the caller of the function that called this one.

    Raises:
        InvalidParameterError: an old name and its new one both given (`parameter`: the new name).
    """
    renamed = dict(keywords)
    for old, new in renames.items():
        if old not in renamed:
            continue
        if new in renamed:
            raise InvalidParameterError(f"{new}: given twice, as {new}= and as its old name {old}=", parameter=new)
        if warn:
            warnings.warn(f"{old}= is deprecated; use {new}= (same values)", DeprecationWarning, stacklevel=stacklevel)
        renamed[new] = renamed.pop(old)
    return renamed
