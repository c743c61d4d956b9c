"""Model folders built offline from packages that ship weights (``sae.models.antiberty``)."""
