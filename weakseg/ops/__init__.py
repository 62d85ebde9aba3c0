"""Layer 10, the top: the workflow's plumbing.

Config checks, the stage contracts the rules call, the command line, GPU leases. May import any
layer; nothing in the package imports it.
"""
