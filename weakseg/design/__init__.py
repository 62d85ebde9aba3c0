"""Layer 4: the study's design: the variant table (controls and each method's variants), the run plan and its checks, compute, the task.

Imports only :mod:`weakseg.io`.
"""
