"""recipegen: generate and lint SAE recipes for biological foundation models."""

__version__ = "0.1.0"
