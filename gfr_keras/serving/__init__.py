"""SavedModels for TF Serving (L-MNIST networks, populations of dataset neurons) and
helpers that build the requests a client sends.

Layering: the top of the library; imports `network`, `dataset` and `neurons`.
"""
