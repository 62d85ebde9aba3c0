"""Layer 5: the file formats that one stage writes and others read.

Tiles, splits, the weak-label table, band statistics, the summary, the model record and the run
folder, each read and written in one place. Imports io and design only.
"""
