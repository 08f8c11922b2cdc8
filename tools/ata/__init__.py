"""Host tools for the ATA firmware."""
