"""Layer 1, the ground: errors, all-or-nothing outputs, image and label I/O, path-safe names, resizing.

Imports nothing else of weakseg.
"""
