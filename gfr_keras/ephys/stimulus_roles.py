"""What each sweep is for, from its stimulus name: Long Square, Ramp, Noise 1, Noise 2, ...

A sweep's *role* says how the model uses it:

* "Long Square", "Ramp", "Noise 1", "Noise 2": binned and fitted (`binning.STIMULUS_NAMES`);
* "Short Square", "Test": not binned, but their spikes count for the activation's
  gamma (max 1/ISI), as in the published code;
* "ignore": a known stimulus the model does not use.

A name is looked up, in this order (docs/fitting_your_recordings.md has the tables):

1. the user's stimulus map (`load_stimulus_map`): exact names, then glob
   patterns (`*`, `?`, `[...]`) and regular expressions (`re:` prefix), in the
   map's order;
2. Allen's stimulus names as Allen's files spell them (`ALLEN_NAMES`);
3. the stimulus codes of Allen's acquisition software (MIES) in Allen's NWB 2
   files on DANDI, as ipfx's stimulus ontology names them
   (`ipfx/defaults/stimulus_ontology.json`, `ALLEN_CODES`), after removing, as
   ipfx's `get_stimulus_code` does, a `_DA_0` suffix and anything from `[`.

A name none of them knows has no role: the sweep is reported, never guessed.
"""

import fnmatch
import json
import os
import re

from gfr_keras.errors import InputError

BINNED_ROLES = ("Long Square", "Ramp", "Noise 1", "Noise 2")
GAMMA_ROLES = ("Short Square", "Test")
IGNORE = "ignore"
ROLES = (*BINNED_ROLES, *GAMMA_ROLES, IGNORE)

#: Allen's stimulus names (NWB 1 `aibs_stimulus_name`, the Cell Types sweep table's
#: `stimulus_name`, ipfx's ontology names) -> role.
ALLEN_NAMES = {
    "Long Square": "Long Square",
    "Ramp": "Ramp",
    "Noise 1": "Noise 1",
    "Noise 2": "Noise 2",
    "Short Square": "Short Square",
    "Short Square - Hold -60mV": "Short Square",
    "Short Square - Hold -70mV": "Short Square",
    "Short Square - Hold -80mV": "Short Square",
    "Test": "Test",
    "Ramp to Rheobase": IGNORE,
    "Square - 2s Suprathreshold": IGNORE,
    "Square - 0.5ms Subthreshold": IGNORE,
    "Short Square - Triple": IGNORE,
    "Search": IGNORE,
}

# ipfx's stimulus ontology (AllenInstitute/ipfx, ipfx/defaults/stimulus_ontology.json): every
# code whose ontology name is one of the names above, by that name. Codes the ontology names
# "Unknown" are left out: they have no role until a stimulus map gives them one.
_ONTOLOGY_CODES = {
    "Long Square": """
        C1LSCOARSE C1LSCOARSE141203 C1LSCOARSE150112 C1LSCOARSE150216 C1LSCOARSE150217
        C1LSFINEST C1LSFINEST141203 C1LSFINEST150112 C1LSCOARSEMICRO C1LSFINESTMICRO
        C1LSCRESEP C1LSCRESEP170313 subthreshold subthreshold_171 longsquaretemp
        X1PS_SubThresh X3LP_Rheo X4PS_SupraThresh X4PS_SupraThresh_DA_1 Y1PS_SubThresh Y3LP_Rheo
        Y4PS_SupraThresh Y4PS_SupraThresh_DA_1 LP_Rheo PS_SubThresh PS_SupraThresh Rheo_Supra_backu
    """,
    "Short Square": """
        C1SSCOARSE C1SSCOARSE141203 C1SSCOARSE150112 C1SSFINEST C1SSFINEST141203 C1SSFINEST150112
        C2SSHM60CS C2SSHM60CS141203 C2SSHM60CS150112 C2SSHM60FN C2SSHM60FN141203 C2SSHM60FN150112
        C2SSHM70CS C2SSHM70CS150126 C2SSHM70FN C2SSHM70FN150126
        C2SSHM80CS C2SSHM80CS141203 C2SSHM80CS150112 C2SSHM80FN C2SSHM80FN141203 C2SSHM80FN150112
        X6SP_Rheo Y6SP_Rheo SP_Rheo shortsquaretemp
    """,
    "Ramp": "C1RP25PR1S C1RP25PR1S141203 X7Ramp X7RAMP Y7RAMP Ramp",
    "Noise 1": """
        C1NSSEED C1NSSEED_1 C1NSSEED_1141203 C1NSSEED_1150112 C1NSSEED_1150216 C1NSSEED_1150217
        C1NSD1SHORT C1NSD1SHORT171103 C1NSD1SHORT17110 C2NSD1SHORT17110
    """,
    "Noise 2": """
        C1NSSEED_2 C1NSSEED_2141203 C1NSSEED_2150112 C1NSSEED_2150216 C1NSSEED_2150217
        C1NSD2SHORT17110 C2NSD2SHORT17110
    """,
    "Test": """
        EXTPSMOKET EXTPSMOKET141203 EXTPSMOKET180424 EXTPSMOKE180424_ EXTPINBATH EXTPINBATH141203
        EXTPINBATH180424 EXTPCllATT EXTPCllATT141203 EXTPCllATT180424 EXTPBREAKN EXTPBREAKN141203
        EXTPBREAKN180424 EXTPRSCHEK EXTPRSCHEK150209 EXTPSAFETY EXTPSAFETY141203 EXTPGGAEND
        EXTPGGAEND141203 EXTPGGAEND180424 EXTPEXPEND EXTPEXPEND141203 EXTPEXPEND180424 EXTPBLWOUT
        EXTPBLWOUT141203 Blip_finder Rheobase_finder RundownTest RundownTestLong VCLAMP_RNA_STIM
    """,
    IGNORE: """
        C2NSRMPRHE C2NSRMPRHE141203 C2NSRMPRHE150112 C2NSRMPRH2 C2NSRMPRH2150119 C2NSRMPRH2150120
        C2NSRMPRH2150216 C2NSRMPRH2150217 C2SQRHELNG C2SQRHELNG141203 C2SQRHELNG150112
        C2SQRHELNG150216 C2SSTRIPLE C2SSTRIPLE141203 C2SSTRIPLE150429 C2SSTRIPLE171103
        C1SQCAPCHK C1SQCAPCHK141203 X2LP_Search X5SP_Search Y2LP_Search Y5SP_Search LP_Search SP_Search
    """,
}
#: MIES stimulus code -> role (ipfx's stimulus ontology).
ALLEN_CODES = {code: role for role, codes in _ONTOLOGY_CODES.items() for code in codes.split()}


def stimulus_code(description):
    """A `stimulus_description` as ipfx's `get_stimulus_code` reduces it: no `_DA_0` suffix, nothing from `[`."""
    code = description[:-5] if description.endswith("_DA_0") else description
    return code.split("[")[0]


def _pattern_matcher(pattern):
    if pattern.startswith("re:"):
        compiled = re.compile(pattern[3:])
        return lambda name: compiled.fullmatch(name) is not None
    return lambda name: fnmatch.fnmatchcase(name, pattern)


class StimulusMap:
    """A user's map from stimulus names or patterns to roles (see `load_stimulus_map`)."""

    def __init__(self, entries, source="stimulus_map"):
        self.source = str(source)
        self.exact, self.patterns = {}, []
        for pattern, role in entries.items():
            if role not in ROLES:
                raise InputError(
                    f"{self.source}: {pattern!r} maps to {role!r}; expected one of {list(ROLES)}",
                    path=self.source, field=pattern, reason="bad_role",
                )
            if pattern.startswith("re:") or any(c in pattern for c in "*?["):
                try:
                    self.patterns.append((_pattern_matcher(pattern), role))
                except re.error as error:
                    raise InputError(f"{self.source}: {pattern!r} is not a valid regular expression ({error})",
                                     path=self.source, field=pattern, reason="bad_pattern") from None
            else:
                self.exact[pattern] = role

    def role(self, name):
        if name in self.exact:
            return self.exact[name]
        return next((role for matches, role in self.patterns if matches(name)), None)


def load_stimulus_map(path):
    """A `StimulusMap` from a JSON file: an object `{"name or pattern": "role", ...}`.

    Keys are exact stimulus names, glob patterns (`"Step*"`) or regular expressions
    (`"re:^IV_[0-9]+$"`, matching the whole name); values are roles (`ROLES`).

    Raises:
        MissingInputError / InputError naming the file and the bad entry.
    """
    from gfr_keras.errors import MissingInputError
    from gfr_keras.io_utils import read_json

    if not os.path.isfile(path):
        raise MissingInputError(f"{path}: stimulus map not found", path=path, reason="missing_stimulus_map")
    entries = read_json(path, InputError)
    if not isinstance(entries, dict) or not all(isinstance(v, str) for v in entries.values()):
        raise InputError(f"{path}: expected a JSON object of name or pattern -> role (one of {list(ROLES)})",
                         path=path, reason="bad_stimulus_map")
    return StimulusMap(entries, source=path)


def stimulus_role(description, stimulus_map=None):
    """The role of a sweep named `description`, or None when no table knows the name (module docstring)."""
    description = (description or "").strip()
    for name in dict.fromkeys((description, stimulus_code(description))):
        if stimulus_map is not None and stimulus_map.role(name) is not None:
            return stimulus_map.role(name)
    if description in ALLEN_NAMES:
        return ALLEN_NAMES[description]
    return ALLEN_CODES.get(stimulus_code(description))
