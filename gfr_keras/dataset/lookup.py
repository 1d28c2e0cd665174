"""Finding neurons in the dataset: records by cell id, and Keras models of them."""

import numbers

import keras

from gfr_keras.dataset.frames import as_frames
from gfr_keras.dataset.records import COLUMNS
from gfr_keras.errors import MissingRecordError
from gfr_keras.neurons.timescales import CONFIGURATIONS
from gfr_keras.neurons.layer import GFR


def _cell_id(cell_id):
    """An int cell id from an int or a string of digits; anything else is a TypeError naming it."""
    if isinstance(cell_id, str) and cell_id.strip().isdigit():
        return int(cell_id.strip())
    if isinstance(cell_id, bool) or not isinstance(cell_id, numbers.Integral):
        raise TypeError(f"cell_id: expected an integer (or a string of digits), got {type(cell_id).__name__} {cell_id!r}")
    return int(cell_id)


def _missing_cell_error(frames, cell_id, configuration):
    elsewhere = [list(c) for c, frame in frames.items() if c != configuration and (frame["cell_id"] == cell_id).any()]
    where = f"; it is in the dataset at {elsewhere}" if elsewhere else "; it is not in the dataset at any configuration"
    return MissingRecordError(
        f"cell_id {cell_id} is not in the dataset for configuration "
        f"(bin_size_ms={configuration[0]}, activation_bin_size_ms={configuration[1]}){where}",
        parameter="cell_ids", cell_id=cell_id,
    )


def lookup_records(dataset, cell_ids, bin_size_ms, activation_bin_size_ms):
    """The records of `cell_ids` at one configuration, in the order given.

    Args:
        dataset: a `load_dataset` dict, a path, or a list of records.
        cell_ids: iterable of ints (or strings of digits).
        bin_size_ms, activation_bin_size_ms: the configuration, e.g. `(20, 20)`.

    Raises:
        KeyError naming the first unknown cell, the configuration and the
        configurations where the cell is; TypeError for a cell id that is not an
        integer; ValueError for a configuration that is not one of the six.
    """
    configuration = (bin_size_ms, activation_bin_size_ms)
    if configuration not in CONFIGURATIONS:
        raise ValueError(
            f"bin_size_ms/activation_bin_size_ms: expected one of {[list(c) for c in CONFIGURATIONS]}, "
            f"got {list(configuration)}"
        )
    frames = as_frames(dataset)
    frame = frames[configuration].set_index("cell_id", drop=False)
    records = []
    for cell_id in map(_cell_id, cell_ids):
        if cell_id not in frame.index:
            raise _missing_cell_error(frames, cell_id, configuration)
        records.append(frame.loc[cell_id, COLUMNS].to_dict())
    return records


@keras.saving.register_keras_serializable(package="gfr_keras")
class GFRModel(keras.Model):
    """Currents `[batch, time, 1 | units]` (pA) to rates `[batch, time, units]` (1/ms).

    A thin model around one `GFR` layer (with `return_sequences=True`) that
    remembers which cells its units are.

    Args:
        gfr: a `GFR` layer, or its serialized config.
        cell_ids: optional list of the cell id of each unit.
    """

    def __init__(self, gfr, cell_ids=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(gfr, dict):
            gfr = keras.saving.deserialize_keras_object(gfr)
        if not isinstance(gfr, GFR) or not gfr.return_sequences:
            raise ValueError("gfr: expected a GFR layer with return_sequences=True")
        self.gfr = gfr
        self.cell_ids = None if cell_ids is None else [int(c) for c in cell_ids]
        if self.cell_ids is not None and len(self.cell_ids) != gfr.units:
            raise ValueError(
                f"cell_ids: expected {gfr.units} ids (one per unit), got {len(self.cell_ids)}"
            )

    def build(self, input_shape):
        if not self.gfr.built:
            self.gfr.build(input_shape)

    def call(self, current_pa, mask=None):
        return self.gfr(current_pa, mask=mask)

    def simulate(self, current_pa):
        """`(rates_per_ms, traces)`; see `GFRCell.simulate`."""
        return self.gfr.simulate(current_pa)

    def get_params(self):
        """Spec section 4 parameters: the dict for a one-neuron model, else a list of dicts."""
        params_list = self.gfr.get_params()
        return params_list[0] if len(params_list) == 1 else params_list

    def get_config(self):
        config = super().get_config()
        config.update(
            {"gfr": keras.saving.serialize_keras_object(self.gfr), "cell_ids": self.cell_ids}
        )
        return config


def population_from_records(records, **layer_kwargs):
    """One `GFR` layer holding the neurons of many dataset records (one unit each).

    Args:
        records: dataset records (dicts with `params`) of one configuration.
        layer_kwargs: `GFR` arguments (`return_sequences`, `freeze_alpha_beta`,
            `dtype`, ...).

    Returns:
        a built `GFR` layer whose unit `i` is `records[i]`.
    """
    records = list(records)
    return GFR.from_params([record["params"] for record in records], **layer_kwargs)


def float64_available():
    """Whether the Keras backend holds float64 (JAX only with `jax_enable_x64`)."""
    if keras.backend.backend() != "jax":
        return True
    import jax

    return bool(jax.config.jax_enable_x64)


def load_gfr_model(dataset, cell_id, bin_size_ms, activation_bin_size_ms, dtype=None):
    """The fitted neuron of one cell at one configuration, as a Keras model.

    Args:
        dataset: a `load_dataset` dict, a dataset JSON path, or a list of records.
        cell_id: the Allen cell (specimen) id (an int, or a string of digits).
        bin_size_ms, activation_bin_size_ms: the configuration, e.g. `(20, 20)`.
        dtype: `"float64"` keeps the dataset's numbers exactly, so `get_params()`
            returns the record's dict unchanged; `"float32"` computes like the
            published code and rounds the parameters to float32. Default:
            float64 where the backend holds it (TensorFlow, and JAX with
            `jax_enable_x64`), else float32.

    Returns:
        `GFRModel` mapping currents `[batch, time, 1]` (pA) to rates
        `[batch, time, 1]` (1/ms).

    Raises:
        KeyError naming the cell, the configuration and where else the cell is;
        TypeError for a cell id that is not an integer.
    """
    cell_id = _cell_id(cell_id)
    records = lookup_records(dataset, [cell_id], bin_size_ms, activation_bin_size_ms)
    if dtype is None:
        dtype = "float64" if float64_available() else "float32"
    layer = population_from_records(records, return_sequences=True, dtype=dtype, name="gfr")
    model = GFRModel(layer, cell_ids=[cell_id], name=f"gfr_cell_{cell_id}")
    # A built model carries a build config, which .keras loading needs to restore weights.
    model.build((None, None, 1))
    return model
