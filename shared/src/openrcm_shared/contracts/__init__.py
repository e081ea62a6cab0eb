"""Integration event contracts, one module per producing context, and the catalogue of them."""
