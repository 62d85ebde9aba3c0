"""Layer 8: models, losses, metrics, tile datasets, training, inference, sliding window, evaluation, predict.

Imports the layers below.
"""
