"""weakseg: semantic segmentation that learns from weak labels (label proportions, and other kinds).

The package holds all logic of the pipeline, in layers whose imports only go downwards (the
README's Layout section): io, weak, design, formats, datasets, data, learn, report, ops. The
Snakemake rules call thin entry points in ``scripts/``, one per stage of ``weakseg.ops.stages``.
"""

__version__ = "0.1.0"
