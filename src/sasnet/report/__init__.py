"""The `report` stage: every model's metrics side by side with the paper's, McNemar tests and plots, and the ranking
table and plot from every ranker.

Reads what the other stages wrote (metrics/<model>.json, data/predictions/<model>.parquet, the embedding scores,
the significance tests and the split summary) and writes results.md, a Markdown report meant to be read on GitHub,
plus the model comparison and headline JSON and the figures with their CSV data. ``build.build_report`` does all
of it; the other modules split the work by job: ``paper`` (the paper's numbers), ``collect`` (reading and checking
the inputs), ``compare`` (tables and statistics between models), ``figures`` (the plots) and ``markdown``
(results.md).

This file holds only this docstring: code here would run on every import of a submodule (review.py's of
``markdown``, say) and close an import cycle with the submodules that ``build_report`` imports.
"""

