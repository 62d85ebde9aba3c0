"""Layer 3: the study's design: the variant table, the run plan and its checks, the task (binary or multi-class).

Imports only :mod:`weakseg.io`.
"""
