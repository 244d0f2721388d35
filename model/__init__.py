"""notecheck's core: note schema, labels, disclosure rules, the classifier and its explanations.

`training/` and `serving/` import this package; it imports neither.
"""
