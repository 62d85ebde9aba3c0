"""Layer 9: the results of a study: summary, statistics, figures, the HTML report and the dashboard.

Imports the layers below.
"""
