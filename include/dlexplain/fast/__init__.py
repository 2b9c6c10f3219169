"""The fast (amortized) explainer: a network trained on the pipeline's own exact explanations that
gives SHAP-like values in a couple of forward passes (Yang et al., ACL 2023; Covert et al.,
NeurIPS 2024), measured against held-out exact explanations and gated before use.

``data`` turns explanation rows into training examples, ``model`` is the network, ``train`` fits
it, ``explainer`` explains with it (the same explanation row, ``method="fast"``), ``fidelity``
scores it against exact explanations and ``gate`` decides whether it may be used.
"""
