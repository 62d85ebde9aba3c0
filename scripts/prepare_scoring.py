"""Rule ``prepare_scoring``: decode one scene's label of the scoring label set (e.g. ISPRS's eroded labels).

A thin entry point: the stage (parameters, named files, what it does) is
:mod:`weakseg.ops.stages.prepare_scoring`; its rule passes two JSON
arguments, the rule's ``params.call`` and ``params.files``.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the weakseg package, also in a conda env

from weakseg.ops.stages.prepare_scoring import STAGE

if __name__ == "__main__":
    STAGE.main()
