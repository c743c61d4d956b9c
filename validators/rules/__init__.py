"""One module per rule (SAE101.py ...): docstring, metadata, VALID/INVALID examples, check()."""
