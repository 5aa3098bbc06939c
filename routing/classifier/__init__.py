"""Task classification: the learned model, the rules, the lexicon and the user's examples.

`classify.TaskClassifier` is the entry point; the other modules are its evidence.
"""
