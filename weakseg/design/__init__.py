"""Layer 4: the study's design: the variant table, the run plan and its checks, compute, the task.

The variant table holds the controls and each method's variants. Imports the layers below
(:mod:`weakseg.io`, :mod:`weakseg.weak`, :mod:`weakseg.methods`), and neither torch nor numpy.
"""
