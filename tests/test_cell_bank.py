"""What the two synthetic banks share: the model registry, one bank interface, the Allen table, the process pool."""

import inspect
import operator

import pytest

from gfr_keras.allen_metadata import load_allen_metadata, species_by_cell
from gfr_keras.errors import InvalidParameterError
from gfr_keras.ephys.bank_models import BANK_MODELS
from gfr_keras.process_pool import run_jobs
from training import synth_cells


def test_every_bank_model_is_a_synth_cells_choice_with_one_interface():
    assert set(BANK_MODELS) == set(synth_cells._MIN_RATE_HZ) == {"glif", "spiking"}
    signatures = {str(inspect.signature(bank.write_cells).replace(parameters=[
        p.replace(default=inspect.Parameter.empty) for p in inspect.signature(bank.write_cells).parameters.values()
    ])) for bank in BANK_MODELS.values()}
    assert signatures == {"(cache_dir, rows, sampling_rate_hz, seed, noise_repeats, formats)"}
    assert BANK_MODELS["spiking"].DEFAULT_SAMPLING_RATE_HZ == 50_000 and BANK_MODELS["glif"].DEFAULT_SAMPLING_RATE_HZ == 10_000


def test_the_glif_bank_refuses_nwb2_before_simulating(tmp_path):
    with pytest.raises(InvalidParameterError, match="formats: the GLIF bank writes NWB 1 files only") as error:
        BANK_MODELS["glif"].write_cells(tmp_path, [{"specimen__id": 1}], formats=("nwb1", "nwb2"))
    assert error.value.parameter == "formats" and not any(tmp_path.iterdir())


def test_each_bank_chooses_cells_with_its_own_features():
    metadata = load_allen_metadata()
    for bank in BANK_MODELS.values():
        chosen = bank.choose_cells(metadata, 6, seed=0)
        assert len(chosen) == 6 and chosen[list(bank.REQUIRED_COLUMNS)].notna().all().all()


def test_species_by_cell_is_the_tables_species():
    table = load_allen_metadata()
    species = species_by_cell()
    assert len(species) == len(table) == 2333
    assert {species[int(i)] for i in table["specimen__id"]} == {"Mus musculus", "Homo Sapiens"}
    row = table.iloc[100]
    assert species[int(row["specimen__id"])] == row["donor__species"]


@pytest.mark.parametrize("workers", [1, 2])
def test_run_jobs_gives_every_job_its_result(workers):
    jobs = [(1, 2), (3, 4), (5, 6)]
    assert sorted(run_jobs(operator.add, jobs, workers)) == [((1, 2), 3), ((3, 4), 7), ((5, 6), 11)]
