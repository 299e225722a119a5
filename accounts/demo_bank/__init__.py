"""The demo bank: an OFX Direct Connect server for demos and tests, on loopback only."""
