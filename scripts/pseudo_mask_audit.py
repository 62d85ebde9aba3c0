"""Rule ``pseudo_mask_audit``: pseudo-masks scored against the weak tiles' true masks (report only).

A thin entry point: the stage (parameters, named files, what it does) is
:mod:`weakseg.ops.stages.pseudo_mask_audit`; its rule passes two JSON
arguments, the rule's ``params.call`` and ``params.files``.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the weakseg package, also in a conda env

from weakseg.ops.stages.pseudo_mask_audit import STAGE

if __name__ == "__main__":
    STAGE.main()
