"""weakseg: semantic segmentation that learns from weak labels (class proportions per tile).

The package holds all logic of the pipeline; the Snakemake rules call thin command-line
entry points in ``scripts/`` that import from here.
"""

__version__ = "0.1.0"
