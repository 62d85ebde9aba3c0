"""Layer 7: the data stages: download, prepare, tiling, splitting, augmentation, band statistics.

Imports the layers below (io, design, formats, datasets).
"""
