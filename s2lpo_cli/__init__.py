"""s2lpo: small-to-large policy optimization (S2L-PO) toolkit."""

__version__ = "0.1.0"
